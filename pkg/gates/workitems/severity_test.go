package workitems

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSeverity(t *testing.T) {
	cases := []struct {
		in   string
		want Severity
		ok   bool
	}{
		{"1 - Critical", Critical, true},
		{"2 - High", High, true},
		{"3 - Medium", Medium, true},
		{"4 - Low", Low, true},
		{"High", High, true},
		{"high", High, true},
		{" LOW ", Low, true},
		{"2", High, true},
		{"2-High", High, true},
		{"1 - High", 0, false}, // number and name disagree
		{"5 - Info", 0, false},
		{"0", 0, false},
		{"Urgent", 0, false},
		{"", 0, false},
		{"2 High", 0, false},
		{"2 -", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := ParseSeverity(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, s := range severities {
		back, ok := ParseSeverity(s.String())
		assert.True(t, ok)
		assert.Equal(t, s, back, "String round-trips")
	}
	assert.Equal(t, "maxCritical", Critical.maxInput())
	assert.Equal(t, "maxLow", Low.maxInput())
}

func TestParseSLA(t *testing.T) {
	cases := []struct {
		in      string
		want    SLADays
		wantErr string
	}{
		{in: "critical=7,high=30,medium=90,low=180", want: SLADays{-1, 7, 30, 90, 180}},
		{in: "critical=7", want: SLADays{-1, 7, -1, -1, -1}},
		{in: " medium = 30 ,\nlow=-1", want: SLADays{-1, -1, -1, 30, -1}},
		{in: "1 - Critical=1,2 - High=4", want: SLADays{-1, 1, 4, -1, -1}},
		{in: "CRITICAL=0", want: SLADays{-1, 0, -1, -1, -1}},
		{in: "", want: SLADays{-1, -1, -1, -1, -1}},
		{in: "urgent=1", wantErr: `"urgent=1": unknown severity "urgent"; valid severities are critical, high, medium, low`},
		{in: "critical", wantErr: `"critical" is not a severity=days pair (example: critical=7)`},
		{in: "critical=", wantErr: "is not a severity=days pair"},
		{in: "=7", wantErr: "is not a severity=days pair"},
		{in: "critical=seven", wantErr: `"critical=seven": "seven" is not a number of days`},
		{in: "critical=-2", wantErr: "is not a number of days"},
		{in: "critical=36501", wantErr: "is not a number of days"},
		{in: "critical=1,Critical=2", wantErr: "severity critical is given twice"},
		{in: "critical=7;high=30", wantErr: `"7;high=30" is not a number of days`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSLA(tc.in)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func seeds(f *testing.F, path string) {
	file, err := os.Open(path)
	require.NoError(f, err)
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		f.Add(sc.Text())
	}
	require.NoError(f, sc.Err())
}

func FuzzParseSLA(f *testing.F) {
	seeds(f, "testdata/slaDays.txt")
	f.Fuzz(func(t *testing.T, in string) {
		sla, err := ParseSLA(in)
		if err != nil {
			assert.NotEmpty(t, err.Error())
			return
		}
		for _, s := range severities {
			assert.True(t, sla[s] >= -1 && sla[s] <= maxDays, "days in range")
		}
		// What parsed prints and re-parses to the same set.
		var pairs []string
		for _, s := range severities {
			if sla[s] >= 0 {
				pairs = append(pairs, s.Name()+"="+strconv.Itoa(sla[s]))
			}
		}
		again, err := ParseSLA(strings.Join(pairs, ","))
		require.NoError(t, err)
		assert.Equal(t, sla, again)
	})
}

func FuzzParseSeverity(f *testing.F) {
	seeds(f, "testdata/severities.txt")
	f.Fuzz(func(t *testing.T, in string) {
		s, ok := ParseSeverity(in)
		if !ok {
			assert.Zero(t, s)
			return
		}
		require.True(t, s.valid())
		back, ok := ParseSeverity(s.String())
		assert.True(t, ok)
		assert.Equal(t, s, back)
	})
}
