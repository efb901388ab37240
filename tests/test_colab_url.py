"""The Colab install URL is read from one place, ``_config.yml``'s ``repository.url``: every
chapter's setup cell and every guide that installs the library from git use exactly it."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    block = text[text.index("\nrepository:"):]
    return re.search(r"^\s+url:\s*(\S+)", block, flags=re.M).group(1).rstrip("/")


def test_every_install_url_is_the_repository_url():
    expected = f"git+{repository_url()}.git"
    files = sorted((ROOT / "book").glob("*.ipynb")) + [ROOT / "book" / "colab_guide.md",
                                                     ROOT / "CONTRIBUTING.md"]
    seen = 0
    for path in files:
        for url in re.findall(r"git\+https://[^\s\"'\\]+", path.read_text()):
            assert url == expected, f"{path.name} installs from {url}, not {expected}"
            seen += 1
    chapters = len(list((ROOT / "book").glob("*.ipynb")))
    assert seen >= chapters, f"only {seen} install URLs found in {chapters} chapters"
