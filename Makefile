# fngw — thin Makefile. Every target installs what it needs first (deps).
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFLAGS ?=
BIN     := bin/gw
# Packages with no cgo: they build with CGO_ENABLED=0 and are unit-tested with -race.
PURE_PKGS = $(shell $(GO) list ./... | grep -v -e '/dpdk$$' -e '/cmd/' -e '/test/pcap' -e '/test/e2e' -e '/gateway$$')

.PHONY: all deps build install uninstall test unit lint rules e2e pcap bench bench-go bench-compare bench-instr pgo demo clean

all: build

deps:
	@./scripts/deps.sh

# gw and the names it answers to as ipvsadm's tools (links to gw).
LINKS = ipvsadm ipvsadm-save ipvsadm-restore

build: deps
	$(GO) build -o $(BIN) ./cmd/gw
	for l in $(LINKS); do ln -sf gw bin/$$l; done

# install: the usual places (FHS, Debian's habits), DESTDIR and PREFIX
# honoured: gw, its links and fngw-prepare in $(SBINDIR), the systemd unit
# in $(UNITDIR) (its paths rewritten to these), the example configuration as
# $(CONFDIR)/gw.toml unless one is there, and in $(DOCDIR). systemctl
# daemon-reload is left to the administrator (or the package's scripts).
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DOCDIR  ?= $(PREFIX)/share/doc/fngw
CONFDIR ?= /etc/fngw
UNITDIR ?= /lib/systemd/system
install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	install -d -m 0755 $(DESTDIR)$(CONFDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/gw
	for l in $(LINKS); do ln -sf gw $(DESTDIR)$(SBINDIR)/$$l; done
	sed -e 's|/etc/fngw/|$(CONFDIR)/|g' deploy/fngw-prepare > $(DESTDIR)$(SBINDIR)/fngw-prepare
	chmod 0755 $(DESTDIR)$(SBINDIR)/fngw-prepare
	sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/etc/fngw/|$(CONFDIR)/|g' deploy/fngw.service > $(DESTDIR)$(UNITDIR)/fngw.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/fngw.service
	install -m 0644 configs/gw.toml configs/demo.toml $(DESTDIR)$(DOCDIR)/examples/
	[ -e $(DESTDIR)$(CONFDIR)/gw.toml ] || install -m 0644 configs/gw.toml $(DESTDIR)$(CONFDIR)/gw.toml

# uninstall removes what install put, except the configuration in $(CONFDIR).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gw $(DESTDIR)$(SBINDIR)/fngw-prepare $(DESTDIR)$(UNITDIR)/fngw.service
	for l in $(LINKS); do rm -f $(DESTDIR)$(SBINDIR)/$$l; done
	rm -rf $(DESTDIR)$(DOCDIR)

lint: deps
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) build $(PURE_PKGS)
	cd perf/chart && $(GO) vet ./...

unit: deps
	$(GO) test -race -count=1 $(PURE_PKGS)
	$(GO) test -count=1 ./dpdk/... ./gateway/
	cd perf/chart && $(GO) test -race -count=1 ./...

pcap: build
	$(GO) test -count=1 -p 1 -v ./test/pcap/

# The alerting rules in deploy/prometheus, checked and unit-tested with
# Debian's promtool (the e2e metrics test also pipes a real scrape through
# promtool check metrics, and the dashboard's queries through check rules).
rules: deps
	promtool check rules deploy/prometheus/fngw-alerts.yml
	cd deploy/prometheus && promtool test rules fngw-alerts.test.yml

e2e: build
	$(GO) test -count=1 -p 1 -timeout 20m -v ./test/e2e/

test: lint build unit rules fuzz-short pcap e2e

# The perf lab (perf/README.md): testpmd and gw side by side, results in perf/results/.
bench: build
	FNGW_GW=$(BIN) ./perf/bench.sh $(BENCH_ARGS)

# Go benchmarks of every package (benchstat-ready); bench-compare: the
# per-packet ones, working tree against main (BASE=rev to change).
bench-go: deps
	$(GO) test -run '^$$' -bench . -benchmem $(PURE_PKGS) ./dpdk/

bench-compare: deps
	./perf/bench-compare.sh

# Instructions per packet of the worker benchmarks under callgrind: the same
# count from run to run, for judging a change on a noisy host (BASE=rev to
# compare).
bench-instr: deps
	GO=$(GO) ./perf/instr.sh

# Profile-guided optimisation: go build compiles the gateway with
# cmd/gw/default.pgo, a CPU profile of the worker benchmarks; pgo makes it
# again (after a datapath change).
pgo: deps
	GO=$(GO) ./perf/pgo.sh

demo: build
	./scripts/demo.sh

clean:
	rm -rf bin

# Robustness (docs/robustness.md). fuzz: every Fuzz target for FUZZTIME
# each (scripts/fuzz.sh; about 3.5 min at 10 s; test runs fuzz-short below,
# and plain go test replays the committed corpora under testdata/fuzz). soak: a
# SOAK_DURATION end-to-end run through FULLNAT (scripts/soak.sh).
FUZZTIME ?= 10s
SOAK_DURATION ?= 10m
.PHONY: fuzz fuzz-short soak
fuzz: deps
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh
# fuzz-short is the bounded pass make test runs: 1000 inputs per target (a
# count, not a time: a time limit shorter than a slow target's worker round trip
# ends in a spurious "context deadline exceeded").
fuzz-short: deps
	FUZZTIME=1000x ./scripts/fuzz.sh
soak: build
	SOAK_DURATION=$(SOAK_DURATION) ./scripts/soak.sh
