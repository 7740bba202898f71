package ctl

import (
	"fmt"
	"strings"
)

// VersionText is what -v prints. The ipvsadm and IPVS versions are those
// whose command line, behaviour and output fngw follows (ipvsadm 1.31, IPVS
// 1.2.1); they are fixed so that scripts that check them keep working.
const VersionText = "ipvsadm v1.31 2019/12/24 (fngw, compatible with IPVS v" + IPVSVersion + ")"

// Usage returns the -h text for program prog, laid out as ipvsadm 1.31's
// usage_exit with fngw's additions (--fullnat, --json, DPVS's local-address
// commands) and without the options fngw refuses.
func Usage(prog string) string {
	var b strings.Builder
	b.WriteString(VersionText + "\n")
	b.WriteString("Usage:\n")
	for _, l := range []string{
		"-A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [-b sched-flags]",
		"-D virtual-service",
		"-C",
		"-R",
		"-S [-n]",
		"-a|e virtual-service -r server-address [options]",
		"-d virtual-service -r server-address",
		"-L|l [virtual-service] [options]",
		"-Z [virtual-service]",
		"--set tcp tcpfin udp",
		"--add-laddr|-P virtual-service -z local-address -F port",
		"--del-laddr|-Q virtual-service -z local-address",
		"--get-laddr|-G [virtual-service]",
		"-h",
	} {
		fmt.Fprintf(&b, "  %s %s\n", prog, l)
	}
	b.WriteString("\n")
	b.WriteString("Commands:\n" +
		"Either long or short options are allowed.\n" +
		"  --add-service     -A        add virtual service with options\n" +
		"  --edit-service    -E        edit virtual service with options\n" +
		"  --delete-service  -D        delete virtual service\n" +
		"  --clear           -C        clear the whole table\n" +
		"  --restore         -R        restore rules from stdin\n" +
		"  --save            -S        save rules to stdout\n" +
		"  --add-server      -a        add real server with options\n" +
		"  --edit-server     -e        edit real server with options\n" +
		"  --delete-server   -d        delete real server\n" +
		"  --list            -L|-l     list the table\n" +
		"  --zero            -Z        zero counters in a service or all services\n" +
		"  --set tcp tcpfin udp        set connection timeout values\n" +
		"  --add-laddr       -P        add local address (FULLNAT)\n" +
		"  --del-laddr       -Q        delete local address (FULLNAT)\n" +
		"  --get-laddr       -G        list local addresses (FULLNAT)\n" +
		"  --help            -h        display this help message\n\n")
	b.WriteString("virtual-service:\n" +
		"  --tcp-service|-t  service-address   service-address is host[:port]\n" +
		"  --udp-service|-u  service-address   service-address is host[:port]\n\n")
	fmt.Fprintf(&b, "Options:\n"+
		"  --scheduler    -s scheduler         one of %s,\n"+
		"                                      the default scheduler is %s.\n"+
		"  --persistent   -p [timeout]         persistent service\n"+
		"  --netmask      -M netmask           persistent granularity mask\n"+
		"  --ops          -o                   one-packet scheduling\n"+
		"  --real-server  -r server-address    server-address is host (and port)\n"+
		"  --gatewaying   -g                   gatewaying (direct routing) (default for -a;\n"+
		"                                      -e keeps the server's method)\n"+
		"  --ipip         -i                   ipip encapsulation (tunneling)\n"+
		"  --masquerading -m                   masquerading (NAT)\n"+
		"  --fullnat                           full NAT (source rewritten to a local address)\n"+
		"  --tun-type      type                one of ipip,\n"+
		"                                      the default tunnel type is ipip.\n"+
		"  --weight       -w weight            capacity of real server\n"+
		"  --u-threshold  -x uthreshold        upper threshold of connections\n"+
		"  --l-threshold  -y lthreshold        lower threshold of connections\n"+
		"  --laddr        -z local-address     local address for --add-laddr/--del-laddr\n"+
		"  --ifname       -F port              port of the local address\n"+
		"  --connection   -c                   output of current IPVS connections\n"+
		"  --local                             with -c: a column of FULLNAT local addresses\n"+
		"  --timeout                           output of timeout (tcp tcpfin udp)\n"+
		"  --daemon                            output of daemon information\n"+
		"  --stats                             output of statistics information\n"+
		"  --rate                              output of rate information\n"+
		"  --exact                             expand numbers (display exact values)\n"+
		"  --thresholds                        output of thresholds information\n"+
		"  --persistent-conn                   output of persistent connection info\n"+
		"  --tun-info                          output of tunnel information\n"+
		"  --nosort                            disable sorting output of service/server entries\n"+
		"  --sort                              does nothing, for backwards compatibility\n"+
		"  --numeric      -n                   numeric output of addresses and ports\n"+
		"  --sched-flags  -b flags             scheduler flags (comma-separated)\n"+
		"  --proxy-protocol v1|v2              send the client's address to FULLNAT real servers\n"+
		"                                      in a PROXY protocol header (UDP: v2 only)\n"+
		"  --toa                               send the client's address to FULLNAT real servers\n"+
		"                                      in the TOA TCP option\n"+
		"  --json                              output as JSON\n",
		strings.Join(Schedulers[:], "|"), DefaultSched)
	return b.String()
}
