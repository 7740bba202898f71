module fngw

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/gaissmai/bart v0.30.0 // indirect
	github.com/google/gopacket v1.1.19 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/vishvananda/netlink v1.3.1 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
