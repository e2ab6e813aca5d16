# yubin — one program, bin/yubin, built from src/ with pkg-config.
#
#   make            build bin/yubin (gcc, -Werror)
#   make check      install test deps if missing, build with gcc and with
#                   clang+ASan+UBSan, run unit tests, fuzz smoke and the
#                   pytest integration suite against the sanitized binary
#   make run        build and start yubin on its embedded default config
#   make fuzz       build the libFuzzer harnesses (clang)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
B        ?= build/release
CC       ?= cc
PKGS     := libevent libevent_openssl libevent_pthreads libcares openssl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT      ?= -O2
SAN      ?=
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -g $(OPT) $(SAN) $(WARN) -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SAN) $(LDFLAGS)
LIBS     := $(PKG_LIBS) -lpthread

LIB_SRC  := $(sort $(wildcard src/lib/*.c src/receive/*.c src/queue/*.c src/route/*.c src/deliver/*.c src/fetch/*.c src/cmd/*.c))
LIB_OBJ  := $(LIB_SRC:src/%.c=$(B)/obj/%.o)
MAIN_OBJ := $(B)/obj/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

.PHONY: all check run fuzz fuzz-smoke install clean unit integration deps test-deps clang-check
all: bin/yubin

bin/yubin: $(B)/yubin
	@mkdir -p bin
	cp $(B)/yubin bin/yubin

$(B)/yubin: $(MAIN_OBJ) $(B)/libyubin.a
	@$(if $(V),,echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(MAIN_OBJ) $(B)/libyubin.a $(LIBS)

# V=1 shows the full compiler command lines.
Q := $(if $(V),,@)

$(B)/obj/%.o: src/%.c $(wildcard src/*/*.h src/*.h)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC  $(B)/$*.o")
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

# Unit tests link the archive, so each pulls in only the modules it uses.
$(B)/libyubin.a: $(LIB_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(B)/tests/%: tests/unit/%.c $(B)/libyubin.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD  $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(shell pkg-config --cflags cmocka) -o $@ $< $(B)/libyubin.a $(LDFLAGS_ALL) $(LIBS) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

deps:
	@scripts/install-deps.sh
test-deps:
	@scripts/install-deps.sh --test

ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The whole test suite, as CI runs it.
check: test-deps
	$(MAKE) all
	$(MAKE) B=build/asan CC=clang OPT=-O1 SAN="$(ASAN_FLAGS)" build/asan/yubin unit
	$(MAKE) fuzz-smoke
	YUBIN=$(CURDIR)/build/asan/yubin scripts/run-integration.sh

run: deps all
	./bin/yubin serve

FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
fuzz: $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
build/fuzz/%: fuzz/%.c FORCE
	@$(MAKE) --no-print-directory B=build/fuzzlib CC=clang OPT=-O1 SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" build/fuzzlib/libyubin.a
	@mkdir -p build/fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc $(PKG_CFLAGS) $(FUZZ_FLAGS) -o $@ $< build/fuzzlib/libyubin.a $(LIBS)
FORCE:

# A short run of every harness: enough to catch a crash the corpus finds.
fuzz-smoke: fuzz
	@set -e; for f in $(FUZZ_SRC:fuzz/%.c=build/fuzz/%); do \
	  n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n (20s)"; \
	  $$f -max_total_time=20 -max_len=4096 build/fuzz/corpus-$$n fuzz/corpus/$$n 2>&1 | tail -n 2; \
	done

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/yubin
	install -m 755 bin/yubin $(DESTDIR)$(SBINDIR)/yubin
	ln -sf yubin $(DESTDIR)$(SBINDIR)/sendmail
	ln -sf ../sbin/yubin $(DESTDIR)$(BINDIR)/mailq
	ln -sf ../sbin/yubin $(DESTDIR)$(BINDIR)/newaliases
	install -m 644 etc/yubin.conf.example $(DESTDIR)$(SYSCONFDIR)/yubin/yubin.conf.example
	install -m 644 man/yubin.8 $(DESTDIR)$(MANDIR)/man8/yubin.8
	install -m 644 man/yubin.conf.5 $(DESTDIR)$(MANDIR)/man5/yubin.conf.5

clean:
	rm -rf build bin
