package lab

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
)

// DrawCharts draws the PNG charts of the results directory dir (written by
// Report.Write) with the chart command in module directory chart
// (perf/chart: a module of its own, so that this one does not need the
// plotting library), as `goBin run . DIR` there; its output goes to out.
// The results do not depend on it: a failure leaves them as they are.
func DrawCharts(ctx context.Context, goBin, chart, dir string, out io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goBin, "run", ".", abs)
	cmd.Dir, cmd.Stdout, cmd.Stderr = chart, out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s run . %s in %s: %w", goBin, abs, chart, err)
	}
	return nil
}
