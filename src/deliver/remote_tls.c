/*
 * remote_tls: the outbound TLS policy of the remote process. One client
 * SSL_CTX (TLS 1.2 and 1.3 only, the same AEAD ciphers and groups as the
 * server side, PKIX roots from outbound-ca-file, OpenSSL's DANE enabled)
 * and, per connection, an SSL set up for the policy that applies:
 *
 *   none / may     plain text, or STARTTLS with any certificate (whether
 *                  it verified is logged)
 *   require        TLS with any certificate
 *   verify, sts    TLS with a PKIX-valid certificate for the MX name
 *   dane           TLS whose certificate matches the DNSSEC-validated TLSA
 *                  records (RFC 7672: DANE-TA(2) and DANE-EE(3) only, no
 *                  name checks for DANE-EE)
 *
 * The handshake never aborts on a bad certificate (SSL_VERIFY_NONE); the
 * verification result is checked after it (rtls_check), so the reason
 * can be logged and the attempt failed with a precise status.
 *
 * Security role: this is what stops a network attacker from reading or
 * changing mail for destinations that ask for authenticated TLS.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "deliver/remote_int.h"
#include "util/log.h"
#include "util/str.h"

#define RTLS12_CIPHERS                                                                             \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define RTLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define RTLS_GROUPS   "X25519:P-256:P-384"

static SSL_CTX *rtls_ctx;

int rtls_init(const struct conf *c, char *err, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, RTLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, RTLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, RTLS_GROUPS) != 1 || SSL_CTX_dane_enable(ctx) <= 0)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (c->out.ca_file[0] && SSL_CTX_load_verify_locations(ctx, c->out.ca_file, NULL) != 1) {
		log_warn("outbound-ca-file %s unreadable: PKIX verification will fail",
			 c->out.ca_file);
		ERR_clear_error();
	}
	rtls_ctx = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	(void)str_fmt(err, cap, "cannot set up the outbound TLS context");
	return -1;
}

const char *rtls_level_name(enum rtls_level l)
{
	static const char *const names[] = {"none", "may", "require", "verify", "mta-sts", "dane"};

	return (unsigned)l < sizeof names / sizeof names[0] ? names[l] : "?";
}

int rtls_tlsa_parse(const unsigned char *rd, size_t n, struct rtlsa *out)
{
	if (n < 4 || n - 3 > sizeof out->data)
		return 0;
	out->usage = rd[0];
	out->selector = rd[1];
	out->mtype = rd[2];
	out->len = n - 3;
	memcpy(out->data, rd + 3, out->len);
	if (out->usage != 2 && out->usage != 3)
		return 0; /* PKIX-TA/EE are not for SMTP (RFC 7672 3.1.3) */
	if (out->selector > 1 || out->mtype > 2)
		return 0;
	if ((out->mtype == 1 && out->len != 32) || (out->mtype == 2 && out->len != 64))
		return 0;
	return 1;
}

static int rtls_dane_setup(SSL *ssl, const char *host, const struct rtls_policy *p)
{
	size_t added = 0;

	if (SSL_dane_enable(ssl, host) <= 0)
		return -1;
	(void)SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t i = 0; i < p->n_tlsa; i++) {
		const struct rtlsa *t = &p->tlsa[i];
		if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
			added++;
	}
	ERR_clear_error();
	return added > 0 ? 0 : -1;
}

SSL *rtls_ssl(const char *host, const struct rtls_policy *p)
{
	SSL *ssl = rtls_ctx ? SSL_new(rtls_ctx) : NULL;
	int is_name = host[0] != '[' && !strchr(host, ':');

	if (!ssl)
		return NULL;
	if (is_name && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (p->level == RTLS_DANE) {
		if (rtls_dane_setup(ssl, host, p) < 0)
			goto fail;
	} else if (is_name) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, host) != 1)
			goto fail;
	}
	return ssl;
fail:
	ERR_clear_error();
	SSL_free(ssl);
	return NULL;
}

int rtls_check(SSL *ssl, const struct rtls_policy *p, const char *host, int *verified, char *why,
	       size_t cap)
{
	long v = SSL_get_verify_result(ssl);
	X509 *peer = SSL_get0_peer_certificate(ssl);

	*verified = peer && v == X509_V_OK;
	const char *err = peer ? X509_verify_cert_error_string(v) : "no certificate";

	if (p->level == RTLS_DANE && (!*verified || SSL_get0_dane_authority(ssl, NULL, NULL) < 0)) {
		(void)str_fmt(why, cap,
			      "4.7.5 certificate of %s does not match its TLSA records (%s)", host,
			      err);
		return -1;
	}
	if ((p->level == RTLS_VERIFY || p->level == RTLS_STS) && !*verified) {
		(void)str_fmt(why, cap, "4.7.5 certificate of %s is not valid for it (%s)", host,
			      err);
		return -1;
	}
	return 0;
}
