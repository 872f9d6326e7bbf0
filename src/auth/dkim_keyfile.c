/* dkim_keyfile: reading a DKIM private key file (see dkim_keyfile.h). */
#include "auth/dkim_keyfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/file.h"
#include "util/str.h"

struct dkim_key *dkim_key_read_file(const char *path, char *err, size_t cap)
{
	char *pem = malloc(DKIM_KEY_FILE_MAX);
	ssize_t n = pem ? file_read_small(path, pem, DKIM_KEY_FILE_MAX) : -1;
	struct dkim_key *k = NULL;

	if (n > 0)
		k = dkim_key_load_pem(pem, (size_t)n, err, cap);
	else if (str_fmt(err, cap, "%s", n == 0 ? "empty file" : strerror(pem ? errno : ENOMEM)) <
		 0)
		err[0] = '\0';
	if (pem) {
		OPENSSL_cleanse(pem, DKIM_KEY_FILE_MAX);
		free(pem);
	}
	return k;
}
