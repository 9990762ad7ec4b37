/**
 * A password hash as Keel stores one, in the PHC string format:
 * `$scrypt$ln=17,r=8,p=1$<salt>$<key>`, salt and key base64 without padding. Groups: log2 N, r,
 * p, salt, key. The environment checks KEEL_ADMIN_PASSWORD_HASH against it at boot; the
 * password hasher parses stored hashes with it.
 */
export const SCRYPT_HASH_PATTERN =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;
