"""data_scripts on local fixtures: a fake HTTP server on 127.0.0.1 (Range-aware), zips,
checksums, kagglehub instructions, prepare and make_phantom CLIs. No internet."""
import hashlib
import importlib.util
import http.server
import shutil
import sys
import threading
import types
import zipfile
from pathlib import Path

import pytest

from arcnn_lib.data import ImageCache, get_cache, read_index
from data_fixtures import make_rsna2017

SCRIPTS = Path(__file__).resolve().parents[1] / "data_scripts"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    ranges: list = []
    honour_range = True

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        self.ranges.append(rng)
        if rng and self.honour_range:
            start = int(rng.split("=")[1].rstrip("-"))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.ranges, _Handler.honour_range = {}, [], True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield _Handler, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _zip(paths, root: Path, out: Path) -> bytes:
    with zipfile.ZipFile(out, "w") as z:
        for p in paths:
            for f in sorted([p] if p.is_file() else p.rglob("*")):
                z.write(f, f.relative_to(root).as_posix())
    return out.read_bytes()


def _release_zips(tmp_path):
    """The three official zips, the validation images as zips inside the zip."""
    src = make_rsna2017(tmp_path / "src")
    val = src / "Bone Age Validation Set"
    for k in (1, 2):
        d = val / f"boneage-validation-dataset-{k}"
        _zip([d], val, val / f"{d.name}.zip")  # top-level folder inside, as unzipped below
        shutil.rmtree(d)
    return {
        "Bone Age Training Set.zip": _zip([src / "train.csv", src / "boneage-training-dataset"],
                                          src, tmp_path / "a.zip"),
        "Bone Age Validation Set.zip": _zip([val], src, tmp_path / "b.zip"),
        "Bone Age Test Set.zip": _zip([src / "Bone Age Test Set"], src, tmp_path / "c.zip"),
    }


def test_rsna_download_unzips_into_a_readable_layout(tmp_path, server, capsys):
    handler, base = server
    dl = _load("download_rsna")
    for name, body in _release_zips(tmp_path).items():
        handler.files["/" + name.replace(" ", "%20")] = body
    dl.main(["--source", "rsna", "--dest", str(tmp_path / "out"), "--base-url", base])
    assert "integrity NOT verified" in capsys.readouterr().out  # the table has no checksums
    index = read_index(tmp_path / "out")
    assert index.attrs["layout"] == "rsna2017" and len(index) == 7
    dl.main(["--source", "rsna", "--dest", str(tmp_path / "out"), "--base-url", base])
    assert "already downloaded" in capsys.readouterr().out


@pytest.mark.parametrize("honour_range", [True, False])
def test_download_resumes_with_range_and_checks_sha(tmp_path, server, honour_range):
    handler, base = server
    handler.honour_range = honour_range
    body = bytes(range(256)) * 400
    handler.files["/f.zip"] = body
    (tmp_path / "f.zip.part").write_bytes(body[:1000])
    dl = _load("download_rsna")
    got = dl.download(f"{base}/f.zip", tmp_path / "f.zip", hashlib.sha256(body).hexdigest())
    assert got.read_bytes() == body and handler.ranges == ["bytes=1000-"]
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        dl.download(f"{base}/f.zip", tmp_path / "g.zip", "0" * 64)
    assert not (tmp_path / "g.zip.part").exists()


def test_zip_leaving_the_folder_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../evil.txt", "x")
    with pytest.raises(ValueError, match="would leave"):
        _load("download_rsna").extract(tmp_path / "evil.zip", tmp_path / "out")


def test_missing_urls_and_kaggle_instructions(tmp_path, monkeypatch):
    dl = _load("download_rsna")
    with pytest.raises(SystemExit, match="--url"):
        dl.main(["--source", "rsna", "--dest", str(tmp_path / "x")])
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # not installed
    with pytest.raises(SystemExit, match="pip install kagglehub"):
        dl.main(["--source", "kaggle", "--dest", str(tmp_path / "k")])
    fake = types.SimpleNamespace(dataset_download=lambda handle: str(tmp_path / "kh"))
    monkeypatch.setitem(sys.modules, "kagglehub", fake)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    with pytest.raises(SystemExit, match="kaggle.json"):
        dl.main(["--source", "kaggle", "--dest", str(tmp_path / "k")])
    monkeypatch.setenv("KAGGLE_USERNAME", "u")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    (tmp_path / "kh").mkdir()
    dl.main(["--source", "kaggle", "--dest", str(tmp_path / "k")])
    assert (tmp_path / "k").resolve() == (tmp_path / "kh").resolve()


def test_make_phantom_and_prepare_clis(tmp_path):
    _load("make_phantom").main(["--dest", str(tmp_path / "p"), "--n", "4", "--size", "64"])
    prepare = _load("prepare_rsna")
    args = ["--src", str(tmp_path / "p"), "--dest", str(tmp_path / "c"), "--size", "32"]
    prepare.main(args)
    prepare.main(args)  # idempotent
    built = list((tmp_path / "c").iterdir())
    assert len(built) == 1                       # one cache folder, reused the second time
    cache = ImageCache(built[0])
    assert cache.images.shape == (4, 32, 32) and cache.meta["layout"] == "phantom"
    # training finds the very same cache through get_cache
    assert get_cache(tmp_path / "p", 32, cache_dir=tmp_path / "c").dest == cache.dest
