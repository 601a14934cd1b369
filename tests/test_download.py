import hashlib
import http.server
import threading

import pytest

from rnn_dynamics.data.download import ChecksumError, MissingChecksumError, NoNetworkError, fetch, sha256sum

CONTENT = b"review archive bytes\n" * 1000
SHA256 = hashlib.sha256(CONTENT).hexdigest()


def test_sha256sum(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(CONTENT)
    assert sha256sum(path) == SHA256


def test_fetch_verifies_and_moves_into_place(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(CONTENT)
    out = tmp_path / "out" / "archive.tar.gz"
    assert fetch(source.as_uri(), out, SHA256) == out
    assert out.read_bytes() == CONTENT
    assert list(out.parent.iterdir()) == [out]  # no temporary file left beside it


def test_corrupt_file_fails_checksum_and_leaves_no_output(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(CONTENT[:-1] + b"X")
    out = tmp_path / "out" / "archive.tar.gz"
    with pytest.raises(ChecksumError, match="sha256"):
        fetch(source.as_uri(), out, SHA256, backoff=0)
    assert list(out.parent.iterdir()) == []


def test_unreachable_source_says_no_network_and_names_the_config_key(tmp_path):
    out = tmp_path / "archive.tar.gz"
    missing = (tmp_path / "missing.bin").as_uri()
    with pytest.raises(NoNetworkError, match=r"no network.*datasets\.imdb\.local_archive") as error:
        fetch(missing, out, SHA256, retries=2, local_key="datasets.imdb.local_archive", backoff=0)
    assert "attempt 2" in str(error.value)
    assert not out.exists()


def test_no_checksum_refuses_to_download_and_names_both_keys(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(CONTENT)
    out = tmp_path / "archive.tgz"
    with pytest.raises(MissingChecksumError) as error:
        fetch(source.as_uri(), out, None, sha256_key="datasets.yelp.sha256", local_key="datasets.yelp.local_archive")
    assert "refusing to download" in str(error.value)
    assert "`datasets.yelp.sha256` is null" in str(error.value)
    assert "`datasets.yelp.local_archive`" in str(error.value)
    assert not out.exists()


class FlakyServer(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests, then serves CONTENT."""

    failures = 0
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        if type(self).requests <= type(self).failures:
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(CONTENT)))
        self.end_headers()
        self.wfile.write(CONTENT)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_url():
    server = http.server.HTTPServer(("127.0.0.1", 0), FlakyServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FlakyServer.requests = 0
    yield f"http://127.0.0.1:{server.server_port}/archive.tar.gz"
    server.shutdown()
    server.server_close()


def test_retries_until_the_server_answers(flaky_url, tmp_path):
    FlakyServer.failures = 2
    out = tmp_path / "archive.tar.gz"
    fetch(flaky_url, out, SHA256, retries=3, backoff=0)
    assert FlakyServer.requests == 3
    assert out.read_bytes() == CONTENT


def test_gives_up_after_the_last_retry(flaky_url, tmp_path):
    FlakyServer.failures = 5
    out = tmp_path / "archive.tar.gz"
    with pytest.raises(NoNetworkError, match="503"):
        fetch(flaky_url, out, SHA256, retries=3, backoff=0)
    assert FlakyServer.requests == 3
    assert not out.exists()


MD5 = hashlib.md5(CONTENT).hexdigest()


def test_an_md5_and_size_stand_in_for_a_missing_sha256(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(CONTENT)
    out = tmp_path / "out" / "ag_news_csv.tgz"
    assert fetch(source.as_uri(), out, None, md5=MD5, size=len(CONTENT)) == out
    assert out.read_bytes() == CONTENT


@pytest.mark.parametrize(
    "checks, named",
    [({"md5": "0" * 32}, "md5 is"), ({"md5": MD5, "size": len(CONTENT) + 1}, f"size is {len(CONTENT)}, expected")],
)
def test_a_wrong_md5_or_size_fails_and_leaves_no_output(tmp_path, checks, named):
    source = tmp_path / "source.bin"
    source.write_bytes(CONTENT)
    out = tmp_path / "out" / "ag_news_csv.tgz"
    with pytest.raises(ChecksumError, match=named):
        fetch(source.as_uri(), out, None, backoff=0, **checks)
    assert list(out.parent.iterdir()) == []


def test_a_size_alone_is_no_checksum(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(CONTENT)
    with pytest.raises(MissingChecksumError, match="refusing to download"):
        fetch(source.as_uri(), tmp_path / "out.tgz", None, size=len(CONTENT))
