from sketch2face.config import SourceParams, SynthesizeParams
from sketch2face.data.sources import demo


def test_written_demo_dataset_scans_back_with_landmarks_and_attributes(tmp_path):
    count = demo.write_demo_dataset(SynthesizeParams(count=6, views_per_subject=2, image_size=64, seed=3), tmp_path)
    assert count == 6
    scan = demo.scan(SourceParams(name="demo", kind="demo", root=tmp_path))
    assert len(scan.records) == 6 and not scan.rejections
    first = scan.records[0]
    assert first.id.startswith("demo/s0000-v") and first.subject == "demo/s0000"
    assert first.photo_eyes is not None and first.photo_eyes.left[0] < first.photo_eyes.right[0]
    assert {"gender", "tone_group"} <= set(first.attributes)
    assert len({record.subject for record in scan.records}) == 3


def test_missing_image_is_rejected_not_dropped(tmp_path):
    demo.write_demo_dataset(SynthesizeParams(count=2, views_per_subject=1, image_size=64), tmp_path)
    (tmp_path / "sketches" / "s0001-v0.png").unlink()
    scan = demo.scan(SourceParams(name="demo", kind="demo", root=tmp_path))
    assert len(scan.records) == 1
    assert [r.reason for r in scan.rejections] == ["listed in metadata.csv but missing"]
