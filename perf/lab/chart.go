package lab

// Charts writes the PNG charts into dir (placeholder until plotting lands).
func (rep *Report) WriteCharts(dir string) error { return nil }
