/*
 * dkim_key: DKIM key records (RFC 6376 3.6.1, RFC 8463 k=ed25519) as they
 * come from DNS, their public keys, and our private signing keys (PEM):
 * RSA of 2048 bits or more, or Ed25519; and the TXT record publishing one.
 *
 * Security role: the record parser reads untrusted DNS answers (pure,
 * fuzzed by fuzz/fuzz_dkim.c); keys are handed to OpenSSL only through
 * its DER/raw decoders. Private key PEM copies are wiped after use.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/dkim_int.h"
#include "util/str.h"

#define ED25519_KEY_LEN 32

struct dkim_key {
	EVP_PKEY *pkey;
	int ed25519;
};

static int val_is(const struct dkim_tag *t, const char *s)
{
	return t->val_len == strlen(s) && memcmp(t->val, s, t->val_len) == 0;
}

/* Does the colon-separated list t (FWS allowed) hold item (or "*" when star)? */
static int list_has(const struct dkim_tag *t, const char *item, int star)
{
	size_t i = 0, n = t->val_len, len = strlen(item);

	while (i < n) {
		size_t s, e;
		while (i < n && (t->val[i] == ' ' || t->val[i] == '\t' || t->val[i] == '\r' ||
				 t->val[i] == '\n'))
			i++;
		s = i;
		while (i < n && t->val[i] != ':' && t->val[i] != ' ' && t->val[i] != '\t' &&
		       t->val[i] != '\r' && t->val[i] != '\n')
			i++;
		e = i;
		if ((e - s == len && memcmp(t->val + s, item, len) == 0) ||
		    (star && e - s == 1 && t->val[s] == '*'))
			return 1;
		while (i < n && t->val[i] != ':')
			i++;
		if (i < n)
			i++;
	}
	return 0;
}

static int keyrec_flags(const struct dkim_tag *t, size_t n, struct dkim_keyrec *k, const char **why)
{
	const struct dkim_tag *h = dkim_tag_find(t, n, "h"), *s = dkim_tag_find(t, n, "s"),
			      *f = dkim_tag_find(t, n, "t"), *kt = dkim_tag_find(t, n, "k");

	if (kt && val_is(kt, "ed25519"))
		k->type = DKIM_KEY_ED25519;
	else if (kt && !val_is(kt, "rsa")) {
		*why = "unknown key type";
		return -1;
	}
	k->sha1_ok = !h || list_has(h, "sha1", 0);
	k->sha256_ok = !h || list_has(h, "sha256", 0);
	if (s && !list_has(s, "email", 1)) {
		*why = "key not for email (s=)";
		return -1;
	}
	if (f) {
		k->testing = list_has(f, "y", 0);
		k->strict = list_has(f, "s", 0);
	}
	return 0;
}

int dkim_keyrec_parse(const char *s, size_t n, struct dkim_keyrec *k, const char **why)
{
	struct dkim_tag t[DKIM_TAG_MAX];
	const struct dkim_tag *v, *p;
	size_t nt;

	memset(k, 0, sizeof *k);
	if (dkim_tags_parse(s, n, t, DKIM_TAG_MAX, &nt, why) < 0)
		return -1;
	v = dkim_tag_find(t, nt, "v");
	if (v && (v != &t[0] || !val_is(v, "DKIM1"))) {
		*why = "v= not DKIM1 or not first";
		return -1;
	}
	if (!(p = dkim_tag_find(t, nt, "p"))) {
		*why = "p= missing";
		return -1;
	}
	if (keyrec_flags(t, nt, k, why) < 0)
		return -1;
	if (p->val_len == 0) {
		k->revoked = 1;
		return 0;
	}
	if (dkim_b64_decode(p->val, p->val_len, k->p, sizeof k->p, &k->p_len) < 0 ||
	    k->p_len == 0) {
		*why = "bad p=";
		return -1;
	}
	return 0;
}

int dkim_txt_join(const unsigned char *rd, size_t len, char *out, size_t cap, size_t *n)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t sl = rd[i++];
		if (sl > len - i || o + sl >= cap)
			return -1;
		memcpy(out + o, rd + i, sl);
		o += sl;
		i += sl;
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	*n = o;
	return 0;
}

/* p= for RSA: SubjectPublicKeyInfo (what everyone publishes), else a bare
 * RSAPublicKey (what RFC 6376 literally says). */
static EVP_PKEY *rsa_pkey(const struct dkim_keyrec *k)
{
	const unsigned char *q = k->p;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, (long)k->p_len);

	if (pk && (q != k->p + k->p_len || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (!pk) {
		q = k->p;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)k->p_len);
		if (pk && q != k->p + k->p_len) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	return pk;
}

/*
 * Decoding a public key is the dearest step of a verification with OpenSSL
 * 3 (its decoder framework), and a busy sender's key is the same for every
 * message: the last DKIM_PKEY_CACHE keys are kept, by their exact p= octets
 * (a changed record is a different key). Bounded; entries are replaced.
 */
#define DKIM_PKEY_CACHE 16
#define DKIM_PKEY_P_MAX 1100 /* p= octets kept (RSA-8192 SubjectPublicKeyInfo fits) */

struct dkim_pkey_slot {
	int type;
	size_t p_len;
	unsigned char p[DKIM_PKEY_P_MAX];
	EVP_PKEY *pkey;
};

static struct dkim_pkey_slot dkim_pkeys[DKIM_PKEY_CACHE];

static size_t dkim_pkey_slot_of(const struct dkim_keyrec *k)
{
	uint32_t h = 2166136261u ^ (uint32_t)k->type;

	for (size_t i = 0; i < k->p_len; i++)
		h = (h ^ k->p[i]) * 16777619u;
	return h % DKIM_PKEY_CACHE;
}

static EVP_PKEY *dkim_pkey_cached(const struct dkim_keyrec *k)
{
	struct dkim_pkey_slot *s = &dkim_pkeys[dkim_pkey_slot_of(k)];

	if (!s->pkey || s->type != (int)k->type || s->p_len != k->p_len ||
	    memcmp(s->p, k->p, k->p_len) != 0 || EVP_PKEY_up_ref(s->pkey) != 1)
		return NULL;
	return s->pkey;
}

static void dkim_pkey_keep(const struct dkim_keyrec *k, EVP_PKEY *pk)
{
	struct dkim_pkey_slot *s = &dkim_pkeys[dkim_pkey_slot_of(k)];

	if (k->p_len > DKIM_PKEY_P_MAX || EVP_PKEY_up_ref(pk) != 1)
		return;
	EVP_PKEY_free(s->pkey);
	s->type = (int)k->type;
	s->p_len = k->p_len;
	memcpy(s->p, k->p, k->p_len);
	s->pkey = pk;
}

EVP_PKEY *dkim_keyrec_pkey(const struct dkim_keyrec *k, const char **why)
{
	EVP_PKEY *pk;

	if ((pk = dkim_pkey_cached(k)) != NULL)
		return pk;
	if (k->type == DKIM_KEY_ED25519) {
		pk = k->p_len == ED25519_KEY_LEN
			 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->p, k->p_len)
			 : NULL;
	} else {
		pk = rsa_pkey(k);
	}
	if (!pk)
		*why = "unusable public key";
	else
		dkim_pkey_keep(k, pk);
	return pk;
}

/* ---- private keys ------------------------------------------------------- */

static int no_password(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

static int key_check(EVP_PKEY *pk, struct dkim_key *k, char *err, size_t cap)
{
	int id = EVP_PKEY_get_base_id(pk);

	if (id == EVP_PKEY_ED25519) {
		k->ed25519 = 1;
		return 0;
	}
	if (id != EVP_PKEY_RSA) {
		(void)str_copy(err, cap, "not an RSA or Ed25519 key");
		return -1;
	}
	if (EVP_PKEY_get_bits(pk) < DKIM_RSA_SIGN_BITS) {
		(void)str_fmt(err, cap, "RSA key of %d bits (at least %d needed)",
			      EVP_PKEY_get_bits(pk), DKIM_RSA_SIGN_BITS);
		return -1;
	}
	return 0;
}

struct dkim_key *dkim_key_load_pem(const char *pem, size_t len, char *err, size_t cap)
{
	struct dkim_key *k;
	BIO *bio;
	EVP_PKEY *pk;

	if (len > INT32_MAX || !(bio = BIO_new_mem_buf(pem, (int)len))) {
		(void)str_copy(err, cap, "cannot read the key");
		return NULL;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	BIO_free(bio);
	if (!pk) {
		(void)str_copy(err, cap, "no PEM private key (or it is encrypted)");
		return NULL;
	}
	if (!(k = calloc(1, sizeof *k))) {
		(void)str_copy(err, cap, "out of memory");
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (key_check(pk, k, err, cap) < 0) {
		EVP_PKEY_free(pk);
		free(k);
		return NULL;
	}
	k->pkey = pk;
	return k;
}

void dkim_key_free(struct dkim_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *dkim_key_algo(const struct dkim_key *k)
{
	return k->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

EVP_PKEY *dkim_key_pkey(const struct dkim_key *k)
{
	return k->pkey;
}

int dkim_key_record(const struct dkim_key *k, char *out, size_t cap)
{
	unsigned char pub[DKIM_KEYBYTES_MAX], *q = pub;
	char b64[DKIM_KEYBYTES_MAX * 4 / 3 + 4];
	size_t n = sizeof pub;
	int len;

	if (k->ed25519) {
		if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &n) != 1)
			return -1;
	} else {
		if ((len = i2d_PUBKEY(k->pkey, NULL)) <= 0 || (size_t)len > sizeof pub ||
		    i2d_PUBKEY(k->pkey, &q) != len)
			return -1;
		n = (size_t)len;
	}
	if (dkim_b64_encode(pub, n, b64, sizeof b64) < 0)
		return -1;
	return str_fmt(out, cap, "v=DKIM1; k=%s; p=%s", k->ed25519 ? "ed25519" : "rsa", b64);
}
