package preprocess

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
)

// Fingerprint identifies a set of images so two runs can tell whether they
// saw the same data. It is the lowercase hex SHA-256 of one line per record,
//
//	<RelPath>\t<Size>\t<Label>\n
//
// (RelPath slash-separated and relative to the dataset root, Size in bytes,
// Label 0 or 1), the lines sorted bytewise, duplicates (the two halves of a
// split image) written once. Absolute paths and masks do not enter it, so
// the same download in another folder has the same fingerprint.
func Fingerprint(recs []Record) string {
	lines := make([]string, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		l := fmt.Sprintf("%s\t%d\t%d\n", r.RelPath, r.Size, r.Label)
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return hex.EncodeToString(h.Sum(nil))
}
