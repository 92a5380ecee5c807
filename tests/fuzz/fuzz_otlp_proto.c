/*
 * Fuzz: lib/otlp's otlp_validate (a hand-written wire walker) against protobuf-c's full unpack
 * (otlp_count_unpacked), and the OTLP exporters' item counter against both, on arbitrary bytes (the
 * first byte picks the signal). Never a crash; whatever otlp_validate accepts, protobuf-c accepts
 * (with as many spans / log records, and never more data points: a Metric that sets several members of
 * its data oneof keeps only the last); and on every accepted request the exporter's counter succeeds
 * with otlp_validate's count, since it is what the exporter's self-metrics report. Accepted requests
 * also go through otlphttp's OTLP/JSON writer and back through lib/otlp's JSON reader with as many
 * items as protobuf-c saw; and the same bytes, read as a grpc-status-details-bin value, never crash
 * the RetryInfo parser.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/grpc.h"
#include "lib/otlp.h"
#include "sinks/otlp_export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum otlp_signal s = (enum otlp_signal)(data[0] % OTLP_SIGNALS);
	const uint8_t *pb = data + 1;
	size_t len = size - 1;
	uint64_t wire = 0, unpacked = 0, counted = 0;
	char err[256];
	int v = otlp_validate(s, pb, len, &wire, err, sizeof(err));
	int u = otlp_count_unpacked(s, pb, len, &unpacked);
	int c = otlp_export_count_items(s, pb, len, &counted);
	if (v != 0)
		return 0;
	if (u != 0)
		abort(); /* validate accepted what protobuf-c refuses */
	if (s == OTLP_METRICS ? unpacked > wire : unpacked != wire)
		abort();
	if (c != 0 || counted != wire)
		abort(); /* the exporter would miscount (or drop) a request the receiver accepted */
	int64_t delay;
	grpc_status_details_retry_delay((const char *)pb, len, &delay);
	char *js;
	size_t jlen;
	if (otlp_export_to_json(s, pb, len, &js, &jlen) != 0)
		abort();
	uint8_t *back;
	size_t back_len;
	uint64_t again = 0;
	if (otlp_from_json(s, js, jlen, 64u << 20, &back, &back_len, err, sizeof(err)) != 0 ||
	    otlp_validate(s, back, back_len, &again, err, sizeof(err)) != 0 || again != unpacked)
		abort(); /* our JSON does not read back as the same request */
	free(back);
	free(js);
	return 0;
}
