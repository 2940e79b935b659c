"""`python -m grader data download` against a real HTTP server on loopback serving the real files (the
tests never reach the internet): a dead mirror is skipped, everything lands verified, a rerun keeps it."""
from __future__ import annotations

import functools
import http.server
import shutil
import tarfile
import threading
from pathlib import Path

import pytest

from conftest import PATHS
from grader.data import download, verify
from grader.errors import DataError


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """http://127.0.0.1:PORT/ serving mnist/<file>.gz and BSDS300-images.tgz built from the real images."""
    site = tmp_path_factory.mktemp("mirror")
    shutil.copytree(PATHS.data / "mnist" / "raw", site / "mnist")
    with tarfile.open(site / "BSDS300-images.tgz", "w:gz") as tar:
        for split in ("train", "test"):
            tar.add(PATHS.data / "bsds300" / "images" / split, arcname=f"BSDS300/images/{split}")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_skips_a_dead_mirror_and_verifies(server, tmp_path, capsys):
    root = tmp_path / "data"
    download(root, mnist_mirrors=(f"{server}/no-such-mirror/", f"{server}/mnist/"),
             bsds_url=f"{server}/BSDS300-images.tgz")
    verify(root)                                   # every file of both manifests, sha256-checked
    assert len(list((root / "bsds300" / "images" / "test").glob("*.jpg"))) == 100
    assert "no-such-mirror" in capsys.readouterr().out     # the failed mirror was reported, then skipped
    stamp = (root / "mnist" / "raw" / "t10k-labels-idx1-ubyte.gz").stat().st_mtime_ns
    download(root, mnist_mirrors=(f"{server}/no-such-mirror/",), bsds_url=f"{server}/gone.tgz")
    assert (root / "mnist" / "raw" / "t10k-labels-idx1-ubyte.gz").stat().st_mtime_ns == stamp   # kept, not refetched


def test_download_from_no_working_mirror_says_what_to_do(server, tmp_path):
    with pytest.raises(DataError) as info:
        download(tmp_path / "data", mnist_mirrors=(f"{server}/a/", f"{server}/b/"), bsds_url=f"{server}/x.tgz")
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in message
    assert f"{server}/a/train-images-idx3-ubyte.gz" in message and f"{server}/b/" in message
    assert "GRADER_DATA_DIR" in message
