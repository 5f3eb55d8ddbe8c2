"""Without the `cluster` extra nothing changes but `--cluster`, which says how to get it."""

import sys

import engine


def test_cluster_without_ray_says_how_to_install_it(monkeypatch, tmp_path, run_cli):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as where it is not installed
    monkeypatch.delitem(sys.modules, "engine.cluster", raising=False)  # as if never imported
    monkeypatch.delattr(engine, "cluster", raising=False)
    image = tmp_path / "a.png"
    image.write_bytes(b"never read")
    code, _, err = run_cli("detect", image, "--cluster", "auto", "--out", tmp_path / "r.json")
    assert code == 2 and "pip install 'sightline[cluster]'" in err and "Traceback" not in err
