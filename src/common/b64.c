/*
 * b64: base64 (RFC 4648 section 4) and base64url (section 5) over
 * OpenSSL's EVP_EncodeBlock and EVP_DecodeBlock.
 *
 * EVP_DecodeBlock is lenient: it skips leading and trailing white space,
 * ignores what the padding hides and never reports the padding it
 * decoded.  So the decoders here first check the text against the
 * grammar themselves (alphabet, length, padding only at the very end),
 * let OpenSSL do the arithmetic, and then insist on the canonical form by
 * encoding the result again and comparing: "QR==" decodes to the same
 * byte as "QQ==", and only one of them may be accepted, or two different
 * strings (a signature, a token) would stand for the same bytes.
 *
 * Both directions work in fixed chunks on the stack, because the EVP
 * calls take an int length and a chunk never needs a heap buffer sized
 * from untrusted input.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"

/* Input bytes per encoding chunk (a multiple of 3) and its text. */
#define B64_ENC_CHUNK 768
#define B64_ENC_TEXT (B64_ENC_CHUNK / 3 * 4)
/* Text characters per decoding chunk (a multiple of 4). */
#define B64_DEC_CHUNK 1024

enum b64_alpha { B64_STD, B64_URL };

/*
 * Encode 'in' into 'out' in 'alpha', with padding for the standard
 * alphabet and without for base64url (as JWS wants).
 */
static void
b64_encode_alpha(const void *in, size_t len, struct buf *out,
    enum b64_alpha alpha)
{
	const unsigned char *p = in;
	unsigned char text[B64_ENC_TEXT + 1];
	size_t n, i;
	int tlen;

	while (len > 0) {
		n = len < B64_ENC_CHUNK ? len : B64_ENC_CHUNK;
		tlen = EVP_EncodeBlock(text, p, (int)n);
		if (alpha == B64_URL) {
			/* Padding can only appear in the last chunk. */
			while (tlen > 0 && text[tlen - 1] == '=')
				tlen--;
			for (i = 0; i < (size_t)tlen; i++) {
				if (text[i] == '+')
					text[i] = '-';
				else if (text[i] == '/')
					text[i] = '_';
			}
		}
		buf_append(out, text, (size_t)tlen);
		p += n;
		len -= n;
	}
	/* The text was derived from possibly secret bytes. */
	OPENSSL_cleanse(text, sizeof(text));
}

void
b64_encode(const void *in, size_t len, struct buf *out)
{
	b64_encode_alpha(in, len, out, B64_STD);
}

void
b64url_encode(const void *in, size_t len, struct buf *out)
{
	b64_encode_alpha(in, len, out, B64_URL);
}

/* The 62 characters both alphabets share. */
static int
b64_is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

/*
 * Decode one chunk of standard-alphabet text whose length is a multiple
 * of 4 and whose alphabet and padding were already checked; append the
 * bytes to 'out'.  'npad' is the number of '=' at its end.
 */
static int
b64_decode_chunk(const unsigned char *text, size_t tlen, size_t npad,
    struct buf *out)
{
	unsigned char bin[B64_DEC_CHUNK / 4 * 3];
	unsigned char again[B64_DEC_CHUNK + 1];
	size_t blen;
	int n, rc = -1;

	if (tlen == 0)
		return 0;
	n = EVP_DecodeBlock(bin, text, (int)tlen);
	/* OpenSSL counts the padding as decoded zero bytes. */
	if (n < 0 || (size_t)n != tlen / 4 * 3 || (size_t)n < npad)
		goto out;
	blen = (size_t)n - npad;

	/* Canonical form: the bits the padding hides must be zero. */
	if (EVP_EncodeBlock(again, bin, (int)blen) != (int)tlen ||
	    memcmp(again, text, tlen) != 0)
		goto out;
	buf_append(out, bin, blen);
	rc = 0;
out:
	OPENSSL_cleanse(bin, sizeof(bin));
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

/*
 * Check the text against the grammar of 'alpha' and decode it chunk by
 * chunk.  Standard: length a multiple of 4, at most two '=' and only at
 * the end.  base64url: no '=' at all, and a length that is not 1 modulo
 * 4 (a lone trailing character carries fewer than 8 bits).  Base64url
 * text is translated to the standard alphabet, with the padding
 * EVP_DecodeBlock needs, a chunk at a time.
 */
static int
b64_decode_alpha(const char *in, size_t len, struct buf *out,
    enum b64_alpha alpha)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char text[B64_DEC_CHUNK];
	struct buf tmp = BUF_INIT;
	size_t i, npad = 0, datalen, off, n, tlen;
	int rc = -1;

	if (len > 0 && in == NULL)
		goto out;
	if (alpha == B64_STD) {
		if (len % 4 != 0)
			goto out;
		while (npad < 2 && npad < len && s[len - 1 - npad] == '=')
			npad++;
	} else if (len % 4 == 1)
		goto out;
	datalen = len - npad;

	for (i = 0; i < datalen; i++) {
		if (b64_is_alnum(s[i]))
			continue;
		if (alpha == B64_STD && (s[i] == '+' || s[i] == '/'))
			continue;
		if (alpha == B64_URL && (s[i] == '-' || s[i] == '_'))
			continue;
		/* White space, '=' in the middle, the other alphabet... */
		goto out;
	}

	for (off = 0; off < len; off += n) {
		n = len - off < B64_DEC_CHUNK ? len - off : B64_DEC_CHUNK;
		if (alpha == B64_STD) {
			/* Only the last chunk can hold the padding. */
			if (b64_decode_chunk(s + off, n,
			        off + n == len ? npad : 0, &tmp) != 0)
				goto out;
			continue;
		}
		for (i = 0; i < n; i++) {
			if (s[off + i] == '-')
				text[i] = '+';
			else if (s[off + i] == '_')
				text[i] = '/';
			else
				text[i] = s[off + i];
		}
		/*
		 * B64_DEC_CHUNK is a multiple of 4, so only the last chunk
		 * can be short, and it gets the padding it would have had.
		 */
		tlen = n;
		while (tlen % 4 != 0)
			text[tlen++] = '=';
		if (b64_decode_chunk(text, tlen, tlen - n, &tmp) != 0)
			goto out;
	}
	/* Only a fully valid input reaches 'out'. */
	buf_append(out, tmp.data, tmp.len);
	rc = 0;
out:
	OPENSSL_cleanse(text, sizeof(text));
	buf_free_secret(&tmp);
	return rc;
}

int
b64_decode(const char *in, size_t len, struct buf *out)
{
	return b64_decode_alpha(in, len, out, B64_STD);
}

int
b64url_decode(const char *in, size_t len, struct buf *out)
{
	return b64_decode_alpha(in, len, out, B64_URL);
}
