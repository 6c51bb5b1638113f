/*
 * crypto.c — what protecting one frame costs, for the choice of protocol version 4 (issue 21):
 * per small frame (64 bytes of body) and per 300 KB frame, sealing and opening, for
 *   - version 3: a 16-byte tag over the frame (AES-256-GCM with the body as AAD, i.e.
 *     GMAC), the body sent in the clear;
 *   - CurveZMQ's message box: XSalsa20-Poly1305 under a precomputed key (crypto_box_afternm,
 *     as libzmq's CURVE mechanism seals every message);
 *   - Noise's AESGCM cipher: AES-256-GCM encrypting the body, the header as AAD (OpenSSL);
 *   - Noise's ChaChaPoly cipher: ChaCha20-Poly1305 (IETF), the same.
 * Prints nanoseconds per frame and MB/s. Not a test: nothing is asserted.
 */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HDR 18 /* the signed header of a version 3 frame */

typedef struct {
    const char *name;
    /* Seals body[0..len) (with the header hdr as AAD where the design has one) into out,
     * then opens it again; returns 0 if both succeeded. */
    int (*round)(const uint8_t *hdr, uint8_t *body, size_t len, uint8_t *out, uint64_t n);
} scheme;

static uint8_t key[32];
static unsigned char box_key[crypto_box_BEFORENMBYTES];
static EVP_CIPHER_CTX *gcm;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The 12-byte nonce of AES-GCM and ChaCha20-Poly1305, as Noise forms it: 4 zero bytes, then
 * the counter big-endian. */
static void nonce12(uint8_t nonce[12], uint64_t n)
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (56 - 8 * i));
}

/* AES-256-GCM over aad (and plaintext when encrypting), as OpenSSL's EVP does it. */
static int gcm_seal(const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                    uint8_t tag[16], uint64_t n)
{
    uint8_t nonce[12];
    int outl;
    nonce12(nonce, n);
    return !(EVP_EncryptInit_ex(gcm, NULL, NULL, NULL, nonce) &&
             EVP_EncryptUpdate(gcm, NULL, &outl, aad, (int)aad_len) &&
             (!len || EVP_EncryptUpdate(gcm, out, &outl, in, (int)len)) &&
             EVP_EncryptFinal_ex(gcm, out + len, &outl) &&
             EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, 16, tag));
}

static int gcm_open(const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
                    uint8_t tag[16], uint64_t n)
{
    uint8_t nonce[12];
    int outl;
    nonce12(nonce, n);
    return !(EVP_DecryptInit_ex(gcm, NULL, NULL, NULL, nonce) &&
             EVP_DecryptUpdate(gcm, NULL, &outl, aad, (int)aad_len) &&
             (!len || EVP_DecryptUpdate(gcm, out, &outl, in, (int)len)) &&
             EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
             EVP_DecryptFinal_ex(gcm, out + len, &outl) > 0);
}

/* Version 3: a tag over header and body, the body in the clear. */
static int v3_mac(const uint8_t *hdr, uint8_t *body, size_t len, uint8_t *out, uint64_t n)
{
    uint8_t tag[16];
    memcpy(out, hdr, HDR);
    memcpy(out + HDR, body, len);
    if (gcm_seal(out, HDR + len, NULL, 0, NULL, tag, n)) return 1;
    return gcm_open(out, HDR + len, NULL, 0, NULL, tag, n);
}

static int noise_aesgcm(const uint8_t *hdr, uint8_t *body, size_t len, uint8_t *out, uint64_t n)
{
    uint8_t tag[16];
    if (gcm_seal(hdr, HDR, body, len, out, tag, n)) return 1;
    return gcm_open(hdr, HDR, out, len, body, tag, n);
}

static int noise_chachapoly(const uint8_t *hdr, uint8_t *body, size_t len, uint8_t *out, uint64_t n)
{
    uint8_t nonce[12];
    unsigned long long clen, mlen;
    nonce12(nonce, n);
    if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, body, len, hdr, HDR, NULL, nonce,
                                                  key))
        return 1;
    return crypto_aead_chacha20poly1305_ietf_decrypt(body, &mlen, NULL, out, clen, hdr, HDR, nonce,
                                                     key);
}

/* CurveZMQ: each MESSAGE is crypto_box under the short-term keys, a 24-byte nonce of which
 * the last 8 bytes are the counter. */
static int curve_box(const uint8_t *hdr, uint8_t *body, size_t len, uint8_t *out, uint64_t n)
{
    (void)hdr;
    uint8_t nonce[crypto_box_NONCEBYTES] = "CurveZMQMESSAGEC";
    for (int i = 0; i < 8; i++)
        nonce[16 + i] = (uint8_t)(n >> (56 - 8 * i));
    if (crypto_box_easy_afternm(out, body, len, nonce, box_key)) return 1;
    return crypto_box_open_easy_afternm(body, out, len + crypto_box_MACBYTES, nonce, box_key);
}

static void run(const scheme *s, size_t len, double seconds)
{
    uint8_t hdr[HDR] = {4, 3}, *body = malloc(len), *out = malloc(len + HDR + 64);
    randombytes_buf(body, len);
    uint64_t n = 0;
    double start = now_ns(), end = start + seconds * 1e9, t;
    do {
        for (int i = 0; i < 64; i++)
            if (s->round(hdr, body, len, out, n++)) {
                fprintf(stderr, "crypto: %s failed to open what it sealed\n", s->name);
                exit(1);
            }
    } while ((t = now_ns()) < end);
    double per = (t - start) / (double)n;
    printf("%-34s %9zu %12.0f %10.0f\n", s->name, len, per, len / per * 1e3);
    free(body);
    free(out);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    if (sodium_init() < 0) return 1;
    randombytes_buf(key, sizeof key);
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(pk, sk);
    if (crypto_box_beforenm(box_key, pk, sk) != 0) return 1;
    gcm = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(gcm, EVP_aes_256_gcm(), NULL, key, NULL);
    static const scheme schemes[] = {
        {"v3: tag only (GMAC), body clear", v3_mac},
        {"CurveZMQ box (XSalsa20-Poly1305)", curve_box},
        {"Noise AESGCM (AES-256-GCM)", noise_aesgcm},
        {"Noise ChaChaPoly", noise_chachapoly},
    };
    printf("sealing and opening one frame, this CPU, one thread\n");
    printf("%-34s %9s %12s %10s\n", "scheme", "body B", "ns/frame", "MB/s");
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        run(&schemes[i], 64, seconds);
        run(&schemes[i], 300 * 1024, seconds);
    }
    EVP_CIPHER_CTX_free(gcm);
    return 0;
}
