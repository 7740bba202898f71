// Command gw is the fngw gateway: `gw run -c FILE` runs it (package gateway);
// every other command (`gw adm …` in ipvsadm syntax, `gw ip …`, `gw link …`,
// `gw reload`) is a client of the running gateway's control socket (package
// ctl/client). Invoked through a link named `ipvsadm`, it behaves as `gw adm`.
package main

import (
	"os"

	"fngw/ctl/client"
	"fngw/gateway"
)

func main() {
	run := func(args []string) int { return gateway.Main(args, os.Stderr) }
	os.Exit(client.Main(os.Args, run, os.Stdin, os.Stdout, os.Stderr))
}
