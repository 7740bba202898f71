package client

import (
	"flag"
	"fmt"
	"io"

	"fngw/ctl/keepalived"
)

// importUsage is gw import's usage text.
const importUsage = `usage: gw import keepalived [-i CONFIG_ID] FILE

Translates the virtual_server blocks of keepalived.conf FILE (and the files
it includes) to fngw [[service]] tables on standard output, and lists on
standard error, with file and line, everything not translated and why.
-i is keepalived's config-id, for "@ID" conditional lines.
Exit status: 0 all translated, 1 something listed (the TOML is still
printed), 2 usage error or FILE unreadable.
`

// importConfig is `gw import keepalived [-i ID] FILE`: it runs locally and
// needs no gateway.
func importConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "keepalived" {
		fmt.Fprint(stderr, importUsage)
		return 2
	}
	fs := flag.NewFlagSet("gw import keepalived", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("i", "", "keepalived config-id")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		if err != nil {
			fmt.Fprintf(stderr, "gw import keepalived: %v\n", err)
		}
		fmt.Fprint(stderr, importUsage)
		return 2
	}
	path := fs.Arg(0)
	svcs, items, err := keepalived.Import(path, keepalived.Options{ConfigID: *id})
	if err != nil {
		fmt.Fprintf(stderr, "gw import keepalived: %v\n", err)
		return 2
	}
	if err := keepalived.WriteTOML(stdout, path, svcs); err != nil {
		fmt.Fprintf(stderr, "gw import keepalived: %v\n", err)
		return 1
	}
	status := 0
	for _, it := range items {
		fmt.Fprintln(stderr, it)
		if !it.Note {
			status = 1
		}
	}
	return status
}
