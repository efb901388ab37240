"""Download the RSNA Pediatric Bone Age data into a folder that `read_index` understands.

    python data_scripts/download_rsna.py --source kaggle --dest DIR
    python data_scripts/download_rsna.py --source rsna --dest DIR [--url NAME=URL ...]

kaggle: the Kaggle copy (kmader/rsna-bone-age) through `kagglehub` (pip install kagglehub;
        credentials in ~/.kaggle/kaggle.json or KAGGLE_USERNAME / KAGGLE_KEY). DIR becomes a
        link to kagglehub's download folder.
rsna:   the official 2017 release: each zip of RSNA_FILES over HTTPS, resumable (HTTP Range,
        a `.part` file), checked against its SHA-256 where the table knows it, and unzipped
        into DIR (zips inside the zips too). The public download links sit behind the RSNA
        challenge page and are not stable, so the table leaves them None: pass each one as
        --url NAME=URL (or --base-url for a mirror holding the files under these names).

Use of the data: academic research, education and other non-commercial purposes; cite
Halabi SS et al., "The RSNA Pediatric Bone Age Machine Learning Challenge", Radiology
2019;290(2):498-503, and link the RSNA challenge page.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Dict, Optional

KAGGLE_HANDLE = "kmader/rsna-bone-age"
RSNA_PAGE = "https://www.rsna.org/rsnai/ai-image-challenge/rsna-pediatric-bone-age-challenge-2017"

#: The official release, one entry per zip: the only place URLs and checksums are kept.
#: url None: not known here (pass --url); sha256 None: not known here, verification is
#: skipped with a printed warning. Never fill in a checksum that was not computed from
#: the real file.
RSNA_FILES = {
    "Bone Age Training Set.zip": dict(url=None, sha256=None),
    "Bone Age Validation Set.zip": dict(url=None, sha256=None),
    "Bone Age Test Set.zip": dict(url=None, sha256=None),
}


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, sha256: Optional[str] = None, timeout: float = 60.0,
             chunk: int = 1 << 20) -> Path:
    """Fetch ``url`` to ``dest``, resuming a previous ``dest.part`` with an HTTP Range
    request, then verify the SHA-256 (skipped with a warning when ``sha256`` is None)."""
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256):
        print(f"{dest.name}: already downloaded")
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            mode = "ab" if have and resp.status == 206 else "wb"  # 200: the server restarts
            print(f"{dest.name}: {'resuming at ' + str(have) if mode == 'ab' else 'downloading'}")
            with open(part, mode) as f:
                shutil.copyfileobj(resp, f, chunk)
    except urllib.error.HTTPError as exc:
        if exc.code != 416:  # 416: range beyond the end, i.e. .part is already complete
            raise
    _verify(part, sha256, dest.name)
    os.replace(part, dest)
    return dest


def _verify(path: Path, sha256: Optional[str], name: str) -> None:
    if sha256 is None:
        print(f"WARNING: no known SHA-256 for {name}; integrity NOT verified")
        return
    got = sha256_of(path)
    if got != sha256:
        path.unlink()
        raise ValueError(f"{name}: SHA-256 mismatch (expected {sha256}, got {got}); the partial "
                         "file was removed, run again to download it afresh")


def extract(archive: Path, dest: Path) -> None:
    """Unzip ``archive`` into ``dest`` (refusing paths that leave it), then every zip that
    came out of it into a folder of the zip's name."""
    dest = dest.resolve()
    with zipfile.ZipFile(archive) as z:
        for member in z.namelist():
            if not (dest / member).resolve().is_relative_to(dest):
                raise ValueError(f"{archive}: member {member!r} would leave {dest}")
        z.extractall(dest)
        inner = [dest / m for m in z.namelist() if m.lower().endswith(".zip")]
    for nested in inner:
        extract(nested, nested.with_suffix(""))
        nested.unlink()


def fetch_rsna(dest: Path, urls: Dict[str, str]) -> None:
    """Download and unzip every file of :data:`RSNA_FILES` into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    missing = [n for n in RSNA_FILES if not (urls.get(n) or RSNA_FILES[n]["url"])]
    if missing:
        raise SystemExit(f"no download URL known for {missing}. Get the links from {RSNA_PAGE} "
                         "and pass them as --url 'NAME=URL' (or --base-url for a mirror).")
    for name, entry in RSNA_FILES.items():
        archive = download(urls.get(name) or entry["url"], dest / name, entry["sha256"])
        done = dest / f".{name}.extracted"
        if not done.is_file():
            extract(archive, dest)
            done.touch()
    print(f"done: {dest} (read it with arcnn_lib.data.read_index)")


def fetch_kaggle(dest: Path) -> None:
    """Download the Kaggle copy with kagglehub and link ``dest`` to it."""
    try:
        import kagglehub  # optional: only this path needs it
    except ImportError:
        raise SystemExit("kagglehub is not installed: pip install kagglehub") from None
    has_file = (Path.home() / ".kaggle" / "kaggle.json").is_file()
    if not has_file and not (os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")):
        raise SystemExit(
            "no Kaggle credentials. Create an API token on kaggle.com (Settings -> API -> "
            "Create New Token), save it as ~/.kaggle/kaggle.json (chmod 600), or set "
            "KAGGLE_USERNAME and KAGGLE_KEY; accept the data set's terms on "
            f"https://www.kaggle.com/datasets/{KAGGLE_HANDLE}, then run again.")
    path = Path(kagglehub.dataset_download(KAGGLE_HANDLE))
    if dest.exists() or dest.is_symlink():
        print(f"downloaded to {path}; {dest} exists already, point read_index at {path}")
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.symlink_to(path, target_is_directory=True)
    print(f"done: {dest} -> {path}")


def _parse_urls(pairs, base_url: Optional[str]) -> Dict[str, str]:
    urls = {n: f"{base_url.rstrip('/')}/{urllib.request.quote(n)}" for n in RSNA_FILES} \
        if base_url else {}
    for pair in pairs or []:
        name, sep, url = pair.partition("=")
        if not sep or name not in RSNA_FILES:
            raise SystemExit(f"--url expects NAME=URL with NAME one of {list(RSNA_FILES)}; "
                             f"got {pair!r}")
        urls[name] = url
    return urls


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=("kaggle", "rsna"), required=True)
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--url", action="append", metavar="NAME=URL",
                        help="download URL of one file of the official release")
    parser.add_argument("--base-url", help="a mirror holding the official zips by name")
    args = parser.parse_args(argv)
    if args.source == "kaggle":
        fetch_kaggle(args.dest)
    else:
        fetch_rsna(args.dest, _parse_urls(args.url, args.base_url))


if __name__ == "__main__":
    sys.exit(main())
