# solder — top-level build.
#
# Sources are discovered, not listed: every .c under the library folders goes into build/libsolder.a,
# cmd/main.c links it into ./solder, every tests/test_*.c is a cmocka binary, every tests/tools/*.c a
# helper binary for integration tests, every tests/fuzz/fuzz_*.c a libFuzzer target. Adding a file
# never needs an edit here. The same objects are built a second time under build/asan with
# AddressSanitizer + UBSan for `make test`.

DEB_PKGS := build-essential pkg-config clang libclang-rt-14-dev libcurl4-openssl-dev libzstd-dev \
	libsnappy-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev libsystemd-dev liblmdb-dev \
	libjansson-dev libcmocka-dev libmicrohttpd-dev libnghttp2-dev libpcre2-dev nettle-dev zlib1g-dev libgnutls28-dev
# Peers and tools the tests start (never services: tests start them by hand on loopback).
TEST_DEB_PKGS := curl python3 python3-protobuf python3-snappy python3-grpcio prometheus \
	prometheus-node-exporter systemd-journal-remote gdb chromium iproute2 nftables openssl

CC      ?= cc
CLANG   ?= clang
PKG_LIBS := libcurl libzstd libprotobuf-c libsystemd jansson libmicrohttpd libnghttp2 libpcre2-8 nettle zlib gnutls
PKG_CFLAGS := $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PKG_LDLIBS := $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -I. -Ibuild/gen $(PKG_CFLAGS) -D_GNU_SOURCE -MMD -MP
LDLIBS  := $(PKG_LDLIBS) -lsnappy -llmdb -lpthread -lm
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_DIRS := config pipeline sources sinks wal lib cmd
LIB_SRCS := $(filter-out cmd/main.c,$(shell find $(LIB_DIRS) -name '*.c' 2>/dev/null | sort))
PROTOS   := $(shell find $(LIB_DIRS) -name '*.proto' 2>/dev/null | sort)
PROTO_SRCS := $(patsubst %.proto,build/gen/%.pb-c.c,$(PROTOS))
TEST_SRCS  := $(sort $(wildcard tests/test_*.c))
TOOL_SRCS  := $(sort $(wildcard tests/tools/*.c))
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
TEST_SUPPORT := $(sort $(wildcard tests/support/*.c))
BENCH_SRCS := $(sort $(wildcard bench/*/*.c))

OBJS      := $(patsubst %.c,build/obj/%.o,$(LIB_SRCS) $(PROTO_SRCS))
ASAN_OBJS := $(patsubst %.c,build/asan/%.o,$(LIB_SRCS) $(PROTO_SRCS))
TESTS     := $(patsubst tests/%.c,build/tests/%,$(TEST_SRCS))
ASAN_TESTS:= $(patsubst tests/%.c,build/asan/tests/%,$(TEST_SRCS))
TOOLS     := $(patsubst tests/tools/%.c,build/tools/%,$(TOOL_SRCS))
FUZZERS   := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
BENCHES   := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRCS))

FUZZ_SECONDS ?= 60

# Objects are real targets, never intermediates: a missing one is rebuilt, not skipped.
.SECONDARY:

.PHONY: FORCE all deps test-deps run test unit asan-unit integration fuzz fuzz-build fuzz-smoke format lint \
	clean bench test-crash
.DEFAULT_GOAL := all
.SECONDARY:

all: solder $(TOOLS) $(BENCHES)

# Installs only what is missing; quiet when everything is there. Works as root or through sudo.
deps:
	@./.ci/apt-ensure $(DEB_PKGS)
test-deps: deps
	@./.ci/apt-ensure $(TEST_DEB_PKGS)

solder: build/obj/cmd/main.o build/libsolder.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

build/libsolder.a: $(OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/gen/%.pb-c.c build/gen/%.pb-c.h: %.proto
	@mkdir -p build/gen
	protoc-c --c_out=build/gen -I. $<

# The version lives in a generated header rewritten only when it changes, so version.o rebuilds
# exactly when the commit does.
build/gen/version.h: FORCE
	@mkdir -p build/gen
	@echo '#define SOLDER_VERSION "$(VERSION)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:
build/obj/cmd/version.o build/asan/cmd/version.o build/fuzz/obj/cmd/version.o: build/gen/version.h

build/obj/%.o: %.c | $(PROTO_SRCS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c | $(PROTO_SRCS)
	@mkdir -p $(dir $@)
	@echo "  CC-ASAN $<"
	@$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c -o $@ $<

build/asan/libsolder.a: $(ASAN_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/tests/%: tests/%.c build/libsolder.a $(TEST_SUPPORT)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(TEST_SUPPORT) build/libsolder.a $(LDLIBS) -lcmocka

build/asan/tests/%: tests/%.c build/asan/libsolder.a $(TEST_SUPPORT)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -O1 $(SAN) -o $@ $< $(TEST_SUPPORT) build/asan/libsolder.a $(LDLIBS) -lcmocka

# Benchmark programs: bench/NAME/x.c -> build/bench/NAME/x; bench/NAME/run drives them and prints figures.
build/bench/%: bench/%.c build/libsolder.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libsolder.a $(LDLIBS)

build/tools/%: tests/tools/%.c build/libsolder.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< build/libsolder.a $(LDLIBS)

# Fuzzers: the library is compiled again with clang and libFuzzer's instrumentation.
FUZZ_FLAGS := -std=gnu11 -g -O1 -I. -Ibuild/gen $(PKG_CFLAGS) -D_GNU_SOURCE -MMD -MP -fsanitize=fuzzer-no-link,address,undefined
build/fuzz/obj/%.o: %.c | $(PROTO_SRCS)
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	@$(CLANG) $(FUZZ_FLAGS) -c -o $@ $<
build/fuzz/libsolder.a: $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRCS) $(PROTO_SRCS))
	@rm -f $@
	@ar rcs $@ $^
build/fuzz/%: tests/fuzz/%.c build/fuzz/libsolder.a
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libsolder.a $(LDLIBS)

fuzz-build: deps
	@$(MAKE) --no-print-directory $(FUZZERS)

# `make fuzz` runs each target for FUZZ_SECONDS; `fuzz-smoke` (part of make test) replays the seeds.
fuzz: fuzz-build
	@for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p build/fuzz-corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz-corpus/$$n tests/fuzz/corpus/$$n \
	    2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|crash-|Done' || exit 1; done
# libFuzzer writes new inputs into its first corpus folder: a scratch folder, never the seeds.
fuzz-smoke: fuzz-build
	@for f in $(FUZZERS); do n=$$(basename $$f); rm -rf build/fuzz/scratch-$$n; mkdir -p build/fuzz/scratch-$$n; \
	  $$f -runs=2000 build/fuzz/scratch-$$n tests/fuzz/corpus/$$n >build/fuzz/$$n.log 2>&1 || { cat build/fuzz/$$n.log; exit 1; }; \
	  echo "fuzz $$n: seeds + 2000 runs ok"; done

run: deps
	@$(MAKE) --no-print-directory solder
	./solder run examples/local.alloy

# Unit tests, then the same under ASan+UBSan, then fuzz seed replay, then integration tests.
test: test-deps
	@$(MAKE) --no-print-directory all $(TESTS)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory $(ASAN_TESTS)
	@$(MAKE) --no-print-directory asan-unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory integration
	@echo "make test: all suites passed"

unit: $(TESTS)
	@./.ci/run-tests $(TESTS)
asan-unit: $(ASAN_TESTS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ./.ci/run-tests $(ASAN_TESTS)
integration: all
	@./.ci/run-integration $(sort $(wildcard tests/integration/*.sh))

# The long suites stay out of CI.
test-crash: all
	@SOLDER_CRASH_CYCLES=5000 SOLDER_SCRIPT_TIMEOUT=7200 ./.ci/run-integration $(sort $(wildcard tests/crash/*.sh))

bench: all
	@for b in $(sort $(wildcard bench/*/run)); do echo "== $$b"; $$b || exit 1; done

format:
	clang-format -i $$(find cmd config pipeline sources sinks wal lib tests bench -name '*.[ch]')
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=missingIncludeSystem -I. $(LIB_DIRS)

clean:
	rm -rf build solder

-include $(shell find build -name '*.d' 2>/dev/null)
