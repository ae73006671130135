# dmio - the kernel's dm-io service in userspace.  GNU Make.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
DATADIR ?= $(PREFIX)/share/dmio

CC ?= cc
PKG_CONFIG ?= pkg-config
# CPPFLAGS, CFLAGS and LDFLAGS are the builder's (a distribution's hardening
# flags); what the build needs is added to them.  -Werror only when asked
# (make WERROR=1, as make check does): other compilers warn of other things.
CFLAGS ?= -O2 -g
override CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc/lib
override CFLAGS += -std=gnu11 -Wall -Wextra -pthread
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
LDLIBS_LIB := -laio -luring -lnbd -pthread
CLI_PKGS := blkid popt smartcols json-c libcrypto libxxhash

VERSION := $(shell scripts/version)
SOVERSION := 0

ifeq ($(V),1)
Q :=
else
Q := @
endif

B := build
LIB_SRC := $(wildcard src/lib/*.c)
LIB_HDR := include/dmio.h src/lib/dmio-internal.h src/lib/nbd-internal.h
UNIT_SRC := $(wildcard tests/unit/test-*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/%)
UNIT_SAN := $(UNIT_SRC:tests/unit/%.c=$(B)/san/%)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

CLI_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(CLI_PKGS) 2>/dev/null)
CLI_LIBS := $(shell $(PKG_CONFIG) --libs $(CLI_PKGS) 2>/dev/null)
CLI_SRC := $(wildcard src/cli/*.c src/cli/*/*.c)
CLI_HDR := $(wildcard src/cli/*/*.h) include/dmio.h
CLI_OBJ := $(CLI_SRC:src/cli/%.c=$(B)/cli/%.o)

.PHONY: all check check-unprivileged check-deb check-dist dist deb check-unit check-sanitize check-valgrind check-tsan check-bats check-man deps demo \
	install uninstall fuzz bench check-bench soak soak-tsan clean
all: $(B)/libdmio.a $(B)/libdmio.so $(B)/dmio $(B)/shared/dmio

# Every object is rebuilt when the flags change (WERROR=1, a builder's
# CFLAGS), as options.o is when the version does.
$(B)/flags: FORCE
	@mkdir -p $(@D)
	$(Q)echo '$(CC) $(CPPFLAGS) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(CPPFLAGS) $(CFLAGS)' >$@

deps:
	$(Q)scripts/deps

# ---- the library ----
$(B)/lib/%.o: src/lib/%.c $(LIB_HDR) $(B)/flags
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c -o $@ $<

$(B)/san/lib/%.o: src/lib/%.c $(LIB_HDR) $(B)/flags
	@mkdir -p $(@D)
	@echo "  CC san  $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -c -o $@ $<

LIB_OBJ := $(LIB_SRC:src/lib/%.c=$(B)/lib/%.o)
LIB_SAN_OBJ := $(LIB_SRC:src/lib/%.c=$(B)/san/lib/%.o)

$(B)/libdmio.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/libdmio.so.$(SOVERSION): $(LIB_OBJ) src/lib/libdmio.map
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libdmio.so.$(SOVERSION) -Wl,--version-script=src/lib/libdmio.map -o $@ $(LIB_OBJ) $(LDLIBS_LIB)

$(B)/libdmio.so: $(B)/libdmio.so.$(SOVERSION)
	$(Q)ln -sf libdmio.so.$(SOVERSION) $@

$(B)/san/libdmio.a: $(LIB_SAN_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# ---- the dmio program, linked with the static library ----
$(B)/cli/%.o: src/cli/%.c $(CLI_HDR) $(B)/flags
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(CLI_CFLAGS) -Isrc/cli -DDMIO_VERSION='"$(VERSION)"' -c -o $@ $<

# options.o carries the version: rebuilt when it changes.
$(B)/version: FORCE
	@mkdir -p $(@D)
	$(Q)echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' >$@

$(B)/cli/cmd/options.o $(B)/cli/features/digestfile.o: $(B)/version

.PHONY: FORCE
FORCE:

$(B)/dmio: $(CLI_OBJ) $(B)/libdmio.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libdmio.a $(CLI_LIBS) $(LDLIBS_LIB) -lm

# The one installed: the same program, linked with libdmio.so.0.  The tests
# run the static one above, which needs no library path.
$(B)/shared/dmio: $(CLI_OBJ) $(B)/libdmio.so
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) -L$(B) -ldmio $(CLI_LIBS) -lm

# ---- install: the program, the library, its header and .pc, docs, completions ----
INSTALLED := $(BINDIR)/dmio $(LIBDIR)/libdmio.so.$(SOVERSION) $(LIBDIR)/libdmio.so \
	$(LIBDIR)/libdmio.a $(INCLUDEDIR)/dmio.h $(PKGCONFIGDIR)/dmio.pc \
	$(MANDIR)/man1/dmio.1 $(MANDIR)/man3/libdmio.3 $(BASHCOMPDIR)/dmio $(ZSHCOMPDIR)/_dmio \
	$(DATADIR)/dmio-report.schema.json

install: all
	install -Dm755 $(B)/shared/dmio $(DESTDIR)$(BINDIR)/dmio
	install -Dm755 $(B)/libdmio.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libdmio.so.$(SOVERSION)
	ln -sf libdmio.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libdmio.so
	install -Dm644 $(B)/libdmio.a $(DESTDIR)$(LIBDIR)/libdmio.a
	install -Dm644 include/dmio.h $(DESTDIR)$(INCLUDEDIR)/dmio.h
	install -d $(DESTDIR)$(PKGCONFIGDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		dmio.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/dmio.pc
	install -Dm644 man/dmio.1 $(DESTDIR)$(MANDIR)/man1/dmio.1
	install -Dm644 man/libdmio.3 $(DESTDIR)$(MANDIR)/man3/libdmio.3
	install -Dm644 completions/dmio.bash $(DESTDIR)$(BASHCOMPDIR)/dmio
	install -Dm644 completions/_dmio $(DESTDIR)$(ZSHCOMPDIR)/_dmio
	install -Dm644 doc/dmio-report.schema.json $(DESTDIR)$(DATADIR)/dmio-report.schema.json

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# ---- unit tests: against the static library, and under ASan+UBSan ----
# The CLI's pure parsers are tested here too.
UNIT_DEPS := tests/unit/unit.h src/cli/regions/spec.c src/cli/regions/spec.h
UNIT_FLAGS := -Itests/unit -Isrc/cli

$(B)/test-%: tests/unit/test-%.c $(UNIT_DEPS) $(B)/libdmio.a
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ $< src/cli/regions/spec.c $(B)/libdmio.a $(LDLIBS_LIB)

$(B)/san/test-%: tests/unit/test-%.c $(UNIT_DEPS) $(B)/san/libdmio.a
	@echo "  CC san  $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ $< src/cli/regions/spec.c $(B)/san/libdmio.a $(LDLIBS_LIB)

# test-submit fails the engines' submit calls: it is linked with wrappers of
# them (--wrap sends the library's calls to the test's __wrap_ functions).
WRAP_SUBMIT := -Wl,--wrap=io_uring_submit -Wl,--wrap=io_uring_submit_and_wait \
	-Wl,--wrap=io_submit

$(B)/test-submit: tests/unit/test-submit.c tests/unit/unit.h $(B)/libdmio.a
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(UNIT_FLAGS) $(LDFLAGS) $(WRAP_SUBMIT) -o $@ $< $(B)/libdmio.a $(LDLIBS_LIB)

$(B)/san/test-submit: tests/unit/test-submit.c tests/unit/unit.h $(B)/san/libdmio.a
	@echo "  CC san  $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(UNIT_FLAGS) $(LDFLAGS) $(WRAP_SUBMIT) -o $@ $< $(B)/san/libdmio.a $(LDLIBS_LIB)

# The CLI's pipeline, without main(): its own rule, with the CLI's libraries.
CLI_JOB_OBJ := $(filter-out $(B)/cli/dmio.o,$(CLI_OBJ))
CLI_JOB_SAN := $(CLI_JOB_OBJ:$(B)/cli/%=$(B)/san/cli/%)

$(B)/san/cli/%.o: src/cli/%.c $(CLI_HDR) $(B)/flags
	@mkdir -p $(@D)
	@echo "  CC san  $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(CLI_CFLAGS) -Isrc/cli -c -o $@ $<

$(B)/test-pipeline: tests/unit/test-pipeline.c tests/unit/unit.h $(CLI_JOB_OBJ) $(B)/libdmio.a
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ $< $(CLI_JOB_OBJ) $(B)/libdmio.a $(CLI_LIBS) $(LDLIBS_LIB) -lm

$(B)/san/test-pipeline: tests/unit/test-pipeline.c tests/unit/unit.h $(CLI_JOB_SAN) $(B)/san/libdmio.a
	@echo "  CC san  $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ $< $(CLI_JOB_SAN) $(B)/san/libdmio.a $(CLI_LIBS) $(LDLIBS_LIB) -lm

# ---- ThreadSanitizer: the library, the program and the unit tests ----
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_LIB_OBJ := $(LIB_SRC:src/lib/%.c=$(B)/tsan/lib/%.o)
TSAN_CLI_OBJ := $(CLI_SRC:src/cli/%.c=$(B)/tsan/cli/%.o)
TSAN_JOB_OBJ := $(filter-out $(B)/tsan/cli/dmio.o,$(TSAN_CLI_OBJ))
UNIT_TSAN := $(UNIT_SRC:tests/unit/%.c=$(B)/tsan/%)

$(B)/tsan/lib/%.o: src/lib/%.c $(LIB_HDR) $(B)/flags
	@mkdir -p $(@D)
	@echo "  CC tsan $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TSAN_FLAGS) -c -o $@ $<

$(B)/tsan/cli/%.o: src/cli/%.c $(CLI_HDR) $(B)/flags
	@mkdir -p $(@D)
	@echo "  CC tsan $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TSAN_FLAGS) $(CLI_CFLAGS) -Isrc/cli -DDMIO_VERSION='"$(VERSION)"' -c -o $@ $<

$(B)/tsan/libdmio.a: $(TSAN_LIB_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/tsan/dmio: $(TSAN_CLI_OBJ) $(B)/tsan/libdmio.a
	@echo "  LD tsan $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TSAN_FLAGS) $(LDFLAGS) -o $@ $(TSAN_CLI_OBJ) $(B)/tsan/libdmio.a $(CLI_LIBS) $(LDLIBS_LIB) -lm

$(B)/tsan/test-pipeline: tests/unit/test-pipeline.c tests/unit/unit.h $(TSAN_JOB_OBJ) $(B)/tsan/libdmio.a
	@echo "  CC tsan $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TSAN_FLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ $< $(TSAN_JOB_OBJ) $(B)/tsan/libdmio.a $(CLI_LIBS) $(LDLIBS_LIB) -lm

$(B)/tsan/test-submit: tests/unit/test-submit.c tests/unit/unit.h $(B)/tsan/libdmio.a
	@echo "  CC tsan $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TSAN_FLAGS) $(UNIT_FLAGS) $(LDFLAGS) $(WRAP_SUBMIT) -o $@ $< $(B)/tsan/libdmio.a $(LDLIBS_LIB)

$(B)/tsan/test-%: tests/unit/test-%.c $(UNIT_DEPS) $(B)/tsan/libdmio.a
	@echo "  CC tsan $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(TSAN_FLAGS) $(UNIT_FLAGS) $(LDFLAGS) -o $@ $< src/cli/regions/spec.c $(B)/tsan/libdmio.a $(LDLIBS_LIB)

# setarch -R: this TSan runtime cannot map its shadow memory under the
# widest address randomisation some kernels use.  The wrapper execs, so a
# signal sent to its pid reaches dmio.
$(B)/tsan/dmio-run: $(B)/tsan/dmio
	$(Q)printf '#!/bin/sh\nexec setarch "$$(uname -m)" -R "$$(dirname "$$0")/dmio" "$$@"\n' >$@
	$(Q)chmod +x $@

# Any report fails the run (exit 66).  The unit tests' smaller matrix: the
# threads are the same, the data paths are the plain build's business.
TSAN_ENV := TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"

check-tsan: $(UNIT_TSAN) $(B)/tsan/dmio-run
	$(Q)$(TSAN_ENV) UNIT_QUICK=1 DMIO_WRAP="setarch $$(uname -m) -R" tests/unit/run $(UNIT_TSAN)
	$(Q)$(TSAN_ENV) DMIO=$(CURDIR)/$(B)/tsan/dmio-run tests/bats/run-strict tests/tsan

check-unit: $(UNIT_BIN)
	$(Q)tests/unit/run $(UNIT_BIN)

check-sanitize: $(UNIT_SAN)
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/unit/run $(UNIT_SAN)

check-valgrind: $(UNIT_BIN)
	$(Q)DMIO_VALGRIND=1 tests/unit/run $(UNIT_BIN)

# ---- the soak: randomised copies interrupted at random moments, each
# checked (tests/soak/soak says what); not part of make check.
# SOAK_ITERATIONS, SOAK_SECONDS, SOAK_SEED, SOAK_REPLAY and SOAK_DIR are
# passed on, from the command line or the environment.
soak: $(B)/dmio
	$(Q)tests/soak/soak

soak-tsan: $(B)/tsan/dmio-run
	$(Q)$(TSAN_ENV) SOAK_TSAN=1 DMIO=$(CURDIR)/$(B)/tsan/dmio-run tests/soak/soak

# ---- fuzzing (libFuzzer, clang): the spec, size and map parsers ----
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := spec size map
FUZZ_BIN := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz-%)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(B)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c src/cli/regions/spec.c src/cli/regions/spec.h \
		src/cli/features/map.c src/cli/features/map.h
	@mkdir -p $(@D)
	@echo "  CC fuzz $@"
	$(Q)clang $(CPPFLAGS) $(CFLAGS) $(FUZZ_FLAGS) -Isrc/cli $(LDFLAGS) -o $@ $< \
		src/cli/regions/spec.c src/cli/features/map.c

# Each target for FUZZ_SECONDS, from the seed corpus in the tree; what it
# finds new goes to build/fuzz/corpus-NAME, a crash to build/fuzz/.
fuzz: $(FUZZ_BIN)
	$(Q)for t in $(FUZZ_TARGETS); do \
		mkdir -p $(B)/fuzz/corpus-$$t && \
		echo "== fuzz-$$t, $(FUZZ_SECONDS) s" && \
		$(B)/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(B)/fuzz/$$t- $(B)/fuzz/corpus-$$t tests/fuzz/corpus/$$t \
			2>$(B)/fuzz/$$t.log || { tail -40 $(B)/fuzz/$$t.log; exit 1; }; \
		grep -E "^stat::(number_of_executed_units|peak_rss_mb)" $(B)/fuzz/$$t.log; \
	done

# ---- benchmarks: never timed assertions; see bench/run ----
bench: all
	$(Q)bench/run $(BENCH_ARGS)
	$(Q)bench/sparse
	$(Q)bench/nbd
	$(Q)bench/captive
	$(Q)bench/hash
	$(Q)bench/verify
	$(Q)bench/rate
	$(Q)bench/incremental

check-bench: all
	$(Q)BENCH_QUICK=1 bench/run >/dev/null
	$(Q)BENCH_QUICK=1 bench/sparse >/dev/null
	$(Q)BENCH_QUICK=1 bench/nbd >/dev/null
	$(Q)BENCH_QUICK=1 bench/captive >/dev/null
	$(Q)BENCH_QUICK=1 bench/hash >/dev/null
	$(Q)BENCH_QUICK=1 bench/verify >/dev/null
	$(Q)BENCH_QUICK=1 bench/rate >/dev/null
	$(Q)BENCH_QUICK=1 bench/incremental >/dev/null
	$(Q)echo "bench/run, bench/sparse, bench/nbd, bench/captive, bench/hash, bench/verify, bench/rate, bench/incremental quick mode: ok"

# The manual pages, linted; the options they must cover are checked in Bats.
check-man:
	$(Q)mandoc -T lint -W warning man/dmio.1 man/libdmio.3
	$(Q)echo "man pages: mandoc -T lint clean"

# The CLI suites, strict: a skipped test fails the run.
check-bats: all
	$(Q)tests/bats/run-strict tests/bats

# What needs neither root nor a device (the package build runs it): the
# parsers' unit tests, and the Bats tests tagged unprivileged (usage, bad
# input, JSON, the man page, completions, dmio on image files).
check-unprivileged: $(B)/dmio $(B)/test-spec
	$(Q)$(B)/test-spec
	$(Q)tests/bats/run-strict --filter-tags unprivileged tests/bats

# ---- a source tarball, and the Debian packages built from it ----
DIST := dmio-$(VERSION)

dist:
	$(Q)rm -rf $(B)/dist && mkdir -p $(B)/dist/$(DIST)
	$(Q)scripts/dist-files | tar -cf - -T - | tar -C $(B)/dist/$(DIST) -xf -
	$(Q)echo '$(VERSION)' >$(B)/dist/$(DIST)/VERSION
	$(Q)tar -C $(B)/dist -czf $(B)/$(DIST).tar.gz $(DIST)
	@echo "  DIST    $(B)/$(DIST).tar.gz"

# The tarball holds every file of the tree and the whole version, and
# builds and passes the unit tests unpacked (its full make check was run
# by hand: see the issue's closing note).
check-dist: dist
	$(Q)rm -rf $(B)/distcheck && mkdir -p $(B)/distcheck
	$(Q)tar -C $(B)/distcheck -xzf $(B)/$(DIST).tar.gz
	$(Q)scripts/dist-files | sort >$(B)/distcheck/want
	$(Q)cd $(B)/distcheck/$(DIST) && find . -type f | sed 's|^\./||' | sort | diff ../want -
	$(Q)test "$$($(B)/distcheck/$(DIST)/scripts/version)" = '$(VERSION)'
	$(Q)$(MAKE) --no-print-directory -C $(B)/distcheck/$(DIST) WERROR=1 all check-man check-unit >$(B)/distcheck/log 2>&1 || \
		{ tail -40 $(B)/distcheck/log; exit 1; }
	@echo "  DIST    $(B)/$(DIST).tar.gz: complete, version $(VERSION), builds and passes check-unit"

# dpkg-buildpackage in an unpacked tarball under build/deb, where the
# packages land; its log is build/deb/build.log.
deb: dist
	$(Q)rm -rf $(B)/deb && mkdir -p $(B)/deb
	$(Q)tar -C $(B)/deb -xzf $(B)/$(DIST).tar.gz
	@echo "  DEB     $(B)/deb"
	$(Q)cd $(B)/deb/$(DIST) && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -40 ../build.log; exit 1; }

# The packages: lintian and blhc clean, installed into a scratch root and
# into the machine (then purged), their dmio and libdmio-dev at work.
check-deb: deb
	$(Q)tests/package/check-deb $(B)/deb

check: deps
	$(Q)$(MAKE) --no-print-directory WERROR=1 all
	$(Q)$(MAKE) --no-print-directory WERROR=1 check-man
	$(Q)$(MAKE) --no-print-directory WERROR=1 check-unit
	$(Q)$(MAKE) --no-print-directory WERROR=1 check-sanitize
	$(Q)$(MAKE) --no-print-directory WERROR=1 check-valgrind
	$(Q)$(MAKE) --no-print-directory WERROR=1 check-tsan
	$(Q)$(MAKE) --no-print-directory WERROR=1 check-bats
	$(Q)$(MAKE) --no-print-directory WERROR=1 fuzz FUZZ_SECONDS=10
	$(Q)$(MAKE) --no-print-directory WERROR=1 check-bench
	$(Q)scripts/as-user $(MAKE) --no-print-directory WERROR=1 check-unprivileged
	$(Q)$(MAKE) --no-print-directory check-dist
	$(Q)$(MAKE) --no-print-directory check-deb

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

clean:
	rm -rf $(B)
