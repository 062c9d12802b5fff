import hashlib
import hmac
import re

from ingest import ids, keys


def test_key_ids_are_public_base62_and_unique():
    made = {ids.new_key_id() for _ in range(2000)}
    assert len(made) == 2000
    assert all(re.fullmatch(r"key_[0-9A-Za-z]{16}", k) for k in made)


def test_secret_has_32_random_bytes():
    secret = keys.new_secret()
    body = secret.removeprefix(keys.SECRET_PREFIX)
    assert secret.startswith("ovsk_")
    assert len(body) == 43  # base64url of 32 bytes, unpadded
    assert keys.new_secret() != secret


def test_hash_is_hmac_sha256_with_the_pepper():
    digest = keys.hash_secret("ovsk_abc", b"pepper")
    assert digest == hmac.new(b"pepper", b"ovsk_abc", hashlib.sha256).hexdigest()
    assert keys.hash_secret("ovsk_abc", b"other") != digest


def test_secret_matches_only_the_right_secret_and_pepper():
    stored = keys.hash_secret("ovsk_right", b"pepper")
    assert keys.secret_matches("ovsk_right", stored, b"pepper")
    assert not keys.secret_matches("ovsk_wrong", stored, b"pepper")
    assert not keys.secret_matches("ovsk_right", stored, b"other-pepper")
