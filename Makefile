# sealpost build. `make` builds build/sealpost; `make test` installs test
# dependencies, builds, and runs unit + integration tests (also under
# ASan+UBSan); `make demo` sets up and runs a demo server on loopback.

CC      ?= cc
PKGS     = libevent libevent_openssl libssl libcrypto libcrypt libunbound hiredis libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-unused-parameter
HARDEN   = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS_COMMON = -std=gnu11 -D_GNU_SOURCE $(WARN) -Isrc $(PKG_CFLAGS)
CFLAGS  ?= -O2 -g
LDHARDEN = -pie -Wl,-z,relro,-z,now

SRC      := $(sort $(shell find src -name '*.c'))
LIBSRC   := $(filter-out src/main.c,$(SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

B        = build
OBJ      = $(patsubst src/%.c,$(B)/obj/%.o,$(SRC))
LIBOBJ   = $(patsubst src/%.c,$(B)/obj/%.o,$(LIBSRC))
UNIT_BIN = $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRC))

SAN      = build-san
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_OBJ  = $(patsubst src/%.c,$(SAN)/obj/%.o,$(SRC))

.PHONY: all test unit integration san-test demo fuzz bench clean format deps test-deps install tls-audit

all: $(B)/sealpost

$(B)/sealpost: $(OBJ)
	$(CC) $(CFLAGS) $(LDHARDEN) -o $@ $^ $(PKG_LIBS)

# the STARTTLS load client of `make bench` (bench/compare.py)
$(B)/tls_load: bench/tls_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(HARDEN) $(CFLAGS) $(LDHARDEN) -o $@ $< $$(pkg-config --libs gnutls) -lpthread

$(B)/obj/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(HARDEN) $(CFLAGS) -c -o $@ $<

$(B)/unit/%: tests/unit/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ $< $(LIBOBJ) $(PKG_LIBS) -lcmocka

# Sanitizer build: a second tree, same sources.
$(SAN)/sealpost: $(SAN_OBJ)
	$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

$(SAN)/obj/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -c -o $@ $<

$(SAN)/unit/%: tests/unit/%.c $(filter-out $(SAN)/obj/main.o,$(SAN_OBJ))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $< $(filter-out $(SAN)/obj/main.o,$(SAN_OBJ)) $(PKG_LIBS) -lcmocka

deps:
	bash scripts/deps.sh build

test-deps:
	bash scripts/deps.sh test

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: $(B)/sealpost
	SEALPOST_BIN=$(CURDIR)/$(B)/sealpost /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=10 tests/integration

san-test: $(SAN)/sealpost $(patsubst tests/unit/%.c,$(SAN)/unit/%,$(UNIT_SRC))
	@set -e; for t in $(patsubst tests/unit/%.c,$(SAN)/unit/%,$(UNIT_SRC)); do echo "== $$t"; $$t; done
	SEALPOST_BIN=$(CURDIR)/$(SAN)/sealpost SEALPOST_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	/usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=10 -m "not slow" tests/integration

test: test-deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) san-test

demo: deps all
	bash scripts/demo.sh

fuzz:
	bash scripts/deps.sh fuzz
	bash scripts/fuzz.sh $(or $(SECONDS_PER_TARGET),30)

bench:
	bash bench/run.sh

# testssl.sh against a throwaway local server (offline; not part of `make test`).
tls-audit:
	bash scripts/tls-audit.sh

PREFIX ?= /usr/local
# Installs the binary and the sendmail name (cron, scripts and mail(1) use it).
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(B)/sealpost $(DESTDIR)$(PREFIX)/sbin/sealpost
	ln -sf sealpost $(DESTDIR)$(PREFIX)/sbin/sendmail

format:
	clang-format -i $(SRC) $(wildcard src/*/*.h) $(UNIT_SRC) $(wildcard fuzz/*.c)

clean:
	rm -rf $(B) $(SAN)
