package benchenv

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// WriteReport delivers a rendered markdown page: to the -out file when out
// is not empty (saying so on progress), and always to stdout, so a run
// can be both saved and piped.
func WriteReport(page []byte, out string, stdout, progress io.Writer) error {
	if out != "" {
		if err := os.WriteFile(out, page, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(progress, "wrote %s\n", out)
	}
	_, err := stdout.Write(page)
	return err
}

// FormatInt formats n with thousands separators, as both reports print
// counts: 10000 is "10,000", -1234567 is "-1,234,567".
func FormatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
