/*
 * grpc — the gRPC wire details a unary server needs, kept apart from the HTTP/2 transport so they can
 * be tested and fuzzed alone: the 5-byte length-prefixed message framing (with gzip), grpc-timeout,
 * grpc-message percent-encoding, and a google.rpc.Status with a RetryInfo detail for
 * grpc-status-details-bin. No allocation beyond what the caller asks for; every length is checked.
 */
#ifndef SOLDER_LIB_GRPC_H
#define SOLDER_LIB_GRPC_H

#include <stddef.h>
#include <stdint.h>

/* Status codes (grpc/doc/statuscodes.md). */
enum grpc_status {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

#define GRPC_FRAME_HEADER 5

/*
 * Reads the single message of a unary request body (exactly one frame, nothing after it). Sets
 * *msg and *msg_len to the payload inside `body` and *compressed to the frame's flag. Returns 0, -EINVAL
 * (short, trailing bytes, flag other than 0/1) or -EFBIG (the declared length exceeds max_msg).
 */
int grpc_frame_parse(const uint8_t *body, size_t len, size_t max_msg, const uint8_t **msg, size_t *msg_len,
		     int *compressed);

/* Writes the 5-byte header for an uncompressed message of msg_len bytes. */
void grpc_frame_header(uint8_t out[GRPC_FRAME_HEADER], size_t msg_len);

/* gunzips `in` into a malloc'd buffer of at most max_out bytes. 0, -EINVAL (corrupt), -EFBIG, -ENOMEM. */
int grpc_gunzip(const uint8_t *in, size_t len, size_t max_out, uint8_t **out, size_t *out_len);

/* Parses a grpc-timeout value ("1-8 digits" + H/M/S/m/u/n) into nanoseconds. 0 or -EINVAL. */
int grpc_timeout_parse(const char *s, int64_t *ns);

/* Percent-encodes text for grpc-message (bytes outside 0x20..0x7e and '%'); always NUL-terminates. */
void grpc_message_encode(const char *text, char *out, size_t out_len);

/*
 * Base64 (with padding) of a google.rpc.Status {code, message, details: [RetryInfo{retry_delay}]}
 * for grpc-status-details-bin; retry_delay_ms 0 leaves the detail out. Returns the length written
 * (NUL-terminated) or -ENOSPC.
 */
int grpc_status_details(enum grpc_status code, const char *message, int64_t retry_delay_ms, char *out, size_t out_len);

const char *grpc_status_name(enum grpc_status code);

/* ---- client side (otelcol.exporter.otlp through lib/sender) ---- */

/* Writes the 5-byte header of a message of msg_len bytes, compressed (flag 1) or not. */
void grpc_frame_header_flag(uint8_t out[GRPC_FRAME_HEADER], size_t msg_len, int compressed);

/* Undoes grpc_message_encode's percent-encoding (a malformed escape is kept as is); NUL-terminates. */
void grpc_message_decode(const char *in, size_t len, char *out, size_t out_len);

/*
 * Reads grpc-status-details-bin (base64 of a google.rpc.Status, padded or not) and sets *delay_ms to
 * the retry_delay of its google.rpc.RetryInfo detail. 0, -ENOENT (no RetryInfo) or -EINVAL (malformed).
 */
int grpc_status_details_retry_delay(const char *b64, size_t len, int64_t *delay_ms);

#endif
