package preprocess

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// BodyParts are the seven upper-extremity folders MURA ships.
var BodyParts = []string{"XR_ELBOW", "XR_FINGER", "XR_FOREARM", "XR_HAND", "XR_HUMERUS", "XR_SHOULDER", "XR_WRIST"}

// MURAParts are the two top-level folders of MURA-v1.1.
var MURAParts = []string{"train", "valid"}

// LoadOptions selects what LoadMURA reads.
type LoadOptions struct {
	// BodyPart is one of BodyParts; "" means XR_HAND.
	BodyPart string
	// Parts are the MURA folders to read; nil means ["train"], since the
	// paper used only train/XR_HAND and made its own split from it.
	Parts []string
	// MaskRoot is a tree of anomaly masks mirroring the dataset's relative
	// paths (imageM_anomaly.png beside each imageM.png). "" auto-detects
	// "<root>-truth", which is where synth.Generate writes it.
	MaskRoot string
	// Files is where the dataset is read (nil = the OS; see RootFiles).
	Files *Files
}

// Skip is an image file the loader passed over, with the reason.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Dataset is what LoadMURA found.
type Dataset struct {
	Root     string   `json:"root"`
	BodyPart string   `json:"body_part"`
	Records  []Record `json:"records"`
	Skipped  []Skip   `json:"skipped,omitempty"`
	// Fingerprint identifies the data; see Fingerprint.
	Fingerprint string `json:"fingerprint"`
	// MaskRoot is the anomaly-mask tree in use, "" when there is none.
	MaskRoot string `json:"mask_root,omitempty"`
}

var (
	patientRe   = regexp.MustCompile(`^patient(\d{5})$`)
	studyRe     = regexp.MustCompile(`^study(\d+)_(positive|negative)$`)
	bareStudyRe = regexp.MustCompile(`^study(\d+)`)
	imageRe     = regexp.MustCompile(`^image(\d+)\.png$`)
	handMaskRe  = regexp.MustCompile(`^image(\d+)_hand\.png$`)
)

// pngTrailer is the IEND chunk every complete PNG ends with. Checking for it
// catches truncated downloads without decoding the pixels.
var pngTrailer = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}

// maxView bounds the M of imageM.png; MURA studies hold a handful of views.
const maxView = 1000

// LoadMURA reads root (the MURA-v1.1 folder, holding train/ and valid/) as
// MURA ships it: <part>/<BodyPart>/patientNNNNN/studyK_{positive,negative}/imageM.png,
// checked against <part>_image_paths.csv and <part>_labeled_studies.csv when
// those exist. Layout errors and CSV disagreements are errors naming the
// path (and CSV line); a single unreadable, truncated or non-PNG image is
// skipped and listed in Dataset.Skipped. Records come sorted by RelPath.
func LoadMURA(root string, opts LoadOptions) (*Dataset, error) {
	bodyPart := opts.BodyPart
	if bodyPart == "" {
		bodyPart = "XR_HAND"
	}
	if !contains(BodyParts, bodyPart) {
		return nil, fmt.Errorf("body part %q is not one of MURA's: %s", bodyPart, strings.Join(BodyParts, " "))
	}
	parts := opts.Parts
	if len(parts) == 0 {
		parts = []string{"train"}
	}
	for i, p := range parts {
		if !contains(MURAParts, p) {
			return nil, fmt.Errorf("MURA part %q is not one of: %s", p, strings.Join(MURAParts, " "))
		}
		if contains(parts[:i], p) {
			return nil, fmt.Errorf("MURA part %q is listed twice", p)
		}
	}
	if root == "" {
		return nil, errors.New("MURA root: no folder given")
	}
	files := opts.Files
	if err := requireDir(files, root, "MURA root"); err != nil {
		return nil, err
	}

	maskRoot := opts.MaskRoot
	if maskRoot != "" {
		if err := requireDir(files, maskRoot, "mask root"); err != nil {
			return nil, err
		}
	} else if st, err := files.Stat(filepath.Clean(root) + "-truth"); err == nil && st.IsDir() {
		maskRoot = filepath.Clean(root) + "-truth"
	}

	ds := &Dataset{Root: root, BodyPart: bodyPart, MaskRoot: maskRoot}
	for _, part := range parts {
		recs, skips, err := loadPart(files, root, part, bodyPart)
		if err != nil {
			return nil, err
		}
		if err := checkImageCSV(files, root, part, bodyPart, recs, skips); err != nil {
			return nil, err
		}
		if err := checkStudyCSV(files, root, part, bodyPart, recs, skips); err != nil {
			return nil, err
		}
		ds.Records = append(ds.Records, recs...)
		ds.Skipped = append(ds.Skipped, skips...)
	}
	if len(ds.Records) == 0 {
		return nil, fmt.Errorf("MURA root %s: no readable images under %s", root,
			strings.Join(prefixAll(parts, "/"+bodyPart), ", "))
	}
	sort.Slice(ds.Records, func(i, j int) bool { return ds.Records[i].RelPath < ds.Records[j].RelPath })
	sort.Slice(ds.Skipped, func(i, j int) bool { return ds.Skipped[i].Path < ds.Skipped[j].Path })

	if maskRoot != "" {
		for i := range ds.Records {
			r := &ds.Records[i]
			mp := filepath.Join(maskRoot, filepath.FromSlash(strings.TrimSuffix(r.RelPath, ".png")+"_anomaly.png"))
			if _, err := files.Stat(mp); err != nil {
				return nil, fmt.Errorf("mask root %s has no mask for %s: %w", maskRoot, r.RelPath, err)
			}
			r.MaskPath = mp
		}
	}
	ds.Fingerprint = Fingerprint(ds.Records)
	return ds, nil
}

// LoadMURABodyParts loads several body parts with LoadMURA and merges them
// (records sorted by RelPath, one fingerprint over all). No body parts
// means every body part that has a folder under one of opts.Parts; the
// parts a body part lacks are then left out for it.
func LoadMURABodyParts(root string, bodyParts []string, opts LoadOptions) (*Dataset, error) {
	type load struct {
		bp    string
		parts []string
	}
	var loads []load
	if len(bodyParts) == 0 {
		parts := opts.Parts
		if len(parts) == 0 {
			parts = []string{"train"}
		}
		for _, bp := range BodyParts {
			var have []string
			for _, part := range parts {
				if st, err := opts.Files.Stat(filepath.Join(root, part, bp)); err == nil && st.IsDir() {
					have = append(have, part)
				}
			}
			if len(have) > 0 {
				loads = append(loads, load{bp, have})
			}
		}
		if len(loads) == 0 {
			if err := requireDir(opts.Files, root, "MURA root"); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("MURA root %s: no body part folders (%s) under %s", root, strings.Join(BodyParts, " "), strings.Join(parts, ", "))
		}
	} else {
		for i, bp := range bodyParts {
			if contains(bodyParts[:i], bp) {
				return nil, fmt.Errorf("body part %q is listed twice", bp)
			}
			loads = append(loads, load{bp, opts.Parts})
		}
	}
	var all *Dataset
	var names []string
	for _, l := range loads {
		o := opts
		o.BodyPart, o.Parts = l.bp, l.parts
		ds, err := LoadMURA(root, o)
		if err != nil {
			return nil, err
		}
		names = append(names, l.bp)
		if all == nil {
			all = ds
			continue
		}
		all.Records = append(all.Records, ds.Records...)
		all.Skipped = append(all.Skipped, ds.Skipped...)
	}
	all.BodyPart = strings.Join(names, ",")
	sort.Slice(all.Records, func(i, j int) bool { return all.Records[i].RelPath < all.Records[j].RelPath })
	sort.Slice(all.Skipped, func(i, j int) bool { return all.Skipped[i].Path < all.Skipped[j].Path })
	all.Fingerprint = Fingerprint(all.Records)
	return all, nil
}

func requireDir(files *Files, p, what string) error {
	st, err := files.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s: no such folder", what, p)
		}
		return fmt.Errorf("%s %s: %w", what, p, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s: not a folder", what, p)
	}
	return nil
}

// loadPart walks <root>/<part>/<bodyPart>. Layout problems are errors: a
// wrong folder name would otherwise silently drop or mislabel a study.
func loadPart(files *Files, root, part, bodyPart string) ([]Record, []Skip, error) {
	bpDir := filepath.Join(root, part, bodyPart)
	if err := requireDir(files, bpDir, "MURA folder"); err != nil {
		return nil, nil, fmt.Errorf("%w (expected the layout %s/patientNNNNN/studyK_positive/imageM.png)", err, bpDir)
	}
	patients, err := files.ReadDir(bpDir)
	if err != nil {
		return nil, nil, fmt.Errorf("MURA folder %s: %w", bpDir, err)
	}
	var recs []Record
	var skips []Skip
	for _, pe := range patients {
		if hidden(pe.Name()) {
			continue
		}
		pDir := filepath.Join(bpDir, pe.Name())
		m := patientRe.FindStringSubmatch(pe.Name())
		if m == nil || !pe.IsDir() {
			return nil, nil, fmt.Errorf("%s: unexpected entry, want patientNNNNN folders (five digits)", pDir)
		}
		patient := m[1]
		studies, err := files.ReadDir(pDir)
		if err != nil {
			return nil, nil, fmt.Errorf("patient folder %s: %w", pDir, err)
		}
		for _, se := range studies {
			if hidden(se.Name()) {
				continue
			}
			sDir := filepath.Join(pDir, se.Name())
			sm := studyRe.FindStringSubmatch(se.Name())
			if sm == nil || !se.IsDir() {
				if bareStudyRe.MatchString(se.Name()) {
					return nil, nil, fmt.Errorf("study folder %s: no label suffix, want studyK_positive or studyK_negative", sDir)
				}
				return nil, nil, fmt.Errorf("%s: unexpected entry, want studyK_positive or studyK_negative folders", sDir)
			}
			label := 0
			if sm[2] == "positive" {
				label = 1
			}
			images, err := files.ReadDir(sDir)
			if err != nil {
				return nil, nil, fmt.Errorf("study folder %s: %w", sDir, err)
			}
			studyStart := len(recs)
			handMasks := map[string]string{} // imageM.png -> imageM_hand.png beside it
			for _, ie := range images {
				if hidden(ie.Name()) || ie.IsDir() {
					continue
				}
				iPath := filepath.Join(sDir, ie.Name())
				if hm := handMaskRe.FindStringSubmatch(ie.Name()); hm != nil {
					handMasks["image"+hm[1]+".png"] = iPath // a reference mask, not an image
					continue
				}
				im := imageRe.FindStringSubmatch(ie.Name())
				if im == nil {
					skips = append(skips, Skip{Path: iPath, Reason: "not named imageM.png"})
					continue
				}
				view, err := strconv.Atoi(im[1])
				if err != nil || view > maxView {
					skips = append(skips, Skip{Path: iPath, Reason: fmt.Sprintf("view number %s is out of range (1 to %d)", im[1], maxView)})
					continue
				}
				size, reason := checkPNG(files, iPath)
				if reason != "" {
					skips = append(skips, Skip{Path: iPath, Reason: reason})
					continue
				}
				rel := path.Join(part, bodyPart, pe.Name(), se.Name(), ie.Name())
				recs = append(recs, Record{
					Path:     iPath,
					RelPath:  rel,
					Part:     part,
					BodyPart: bodyPart,
					Patient:  patient,
					Study:    part + "/" + patient + "/study" + sm[1],
					View:     view,
					Label:    label,
					Size:     size,
				})
			}
			for i := studyStart; i < len(recs); i++ {
				recs[i].HandPath = handMasks[path.Base(recs[i].RelPath)]
			}
		}
	}
	return recs, skips, nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// checkPNG reads the header (image.DecodeConfig) and the last 12 bytes, so
// non-PNGs and truncated files are caught without decoding pixels. It
// returns the file size and, for a bad file, why.
func checkPNG(files *Files, p string) (int64, string) {
	f, err := files.Open(p)
	if err != nil {
		return 0, "unreadable: " + err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "unreadable: " + err.Error()
	}
	if st.Size() == 0 {
		return 0, "empty file"
	}
	cfg, err := png.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return st.Size(), "not a valid PNG: " + err.Error()
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return st.Size(), fmt.Sprintf("PNG of size %dx%d", cfg.Width, cfg.Height)
	}
	tail := make([]byte, len(pngTrailer))
	if st.Size() < int64(len(tail)) {
		return st.Size(), "truncated PNG: no IEND chunk at the end"
	}
	if _, err := f.ReadAt(tail, st.Size()-int64(len(tail))); err != nil {
		return st.Size(), "unreadable: " + err.Error()
	}
	if !bytes.Equal(tail, pngTrailer) {
		return st.Size(), "truncated PNG: no IEND chunk at the end"
	}
	return st.Size(), ""
}

// csvLines yields the non-blank lines of a MURA CSV with their 1-based line
// numbers. A missing file yields ok=false and no error: the CSVs are optional.
func csvLines(files *Files, p string) (lines []string, nums []int, ok bool, err error) {
	data, err := files.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(l, "\r"))
		if l == "" {
			continue
		}
		lines = append(lines, l)
		nums = append(nums, i+1)
	}
	return lines, nums, true, nil
}

// csvRel turns a CSV path such as "MURA-v1.1/train/XR_HAND/patient00001/..."
// (relative to the root's parent) into one relative to the root. Any first
// component is accepted so a renamed root folder still loads.
func csvRel(p string) string {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return ""
}

func checkImageCSV(files *Files, root, part, bodyPart string, recs []Record, skips []Skip) error {
	csvPath := filepath.Join(root, part+"_image_paths.csv")
	lines, nums, ok, err := csvLines(files, csvPath)
	if err != nil {
		return fmt.Errorf("%s: %w", csvPath, err)
	}
	if !ok {
		return nil
	}
	inFolder := map[string]bool{}
	for _, r := range recs {
		inFolder[r.RelPath] = true
	}
	for _, s := range skips {
		if rel, err := filepath.Rel(root, s.Path); err == nil {
			inFolder[filepath.ToSlash(rel)] = true
		}
	}
	listed := map[string]bool{}
	for i, l := range lines {
		rel := csvRel(l)
		if !strings.HasPrefix(rel, part+"/") {
			return fmt.Errorf("%s line %d: %q is not a path under <root>/%s/", csvPath, nums[i], l, part)
		}
		if !strings.HasPrefix(rel, part+"/"+bodyPart+"/") {
			continue // another body part
		}
		if !inFolder[rel] {
			return fmt.Errorf("%s line %d: %s is listed but not in the folder", csvPath, nums[i], l)
		}
		listed[rel] = true
	}
	for _, r := range recs {
		if !listed[r.RelPath] {
			return fmt.Errorf("%s: %s is in the folder but not listed", csvPath, r.RelPath)
		}
	}
	return nil
}

func checkStudyCSV(files *Files, root, part, bodyPart string, recs []Record, skips []Skip) error {
	csvPath := filepath.Join(root, part+"_labeled_studies.csv")
	lines, nums, ok, err := csvLines(files, csvPath)
	if err != nil {
		return fmt.Errorf("%s: %w", csvPath, err)
	}
	if !ok {
		return nil
	}
	// Study folders as found, keyed by their path relative to root.
	folder := map[string]int{}
	addDir := func(rel string, label int) { folder[path.Dir(rel)] = label }
	for _, r := range recs {
		addDir(r.RelPath, r.Label)
	}
	for _, s := range skips {
		if rel, err := filepath.Rel(root, s.Path); err == nil {
			rel = filepath.ToSlash(rel)
			label := 0
			if strings.HasSuffix(path.Dir(rel), "_positive") {
				label = 1
			}
			addDir(rel, label)
		}
	}
	listed := map[string]bool{}
	for i, l := range lines {
		comma := strings.LastIndexByte(l, ',')
		if comma < 0 {
			return fmt.Errorf("%s line %d: %q: want study_dir/,label", csvPath, nums[i], l)
		}
		dir := strings.TrimSuffix(csvRel(strings.TrimSpace(l[:comma])), "/")
		labelText := strings.TrimSpace(l[comma+1:])
		if !strings.HasPrefix(dir, part+"/") {
			return fmt.Errorf("%s line %d: %q is not a study under <root>/%s/", csvPath, nums[i], l, part)
		}
		if !strings.HasPrefix(dir, part+"/"+bodyPart+"/") {
			continue
		}
		label, err := strconv.Atoi(labelText)
		if err != nil || (label != 0 && label != 1) {
			return fmt.Errorf("%s line %d: label %q: want 0 or 1", csvPath, nums[i], labelText)
		}
		fl, ok := folder[dir]
		if !ok {
			return fmt.Errorf("%s line %d: study %s is listed but has no images in the folder", csvPath, nums[i], dir)
		}
		if fl != label {
			return fmt.Errorf("%s line %d: label %d disagrees with the folder name %s", csvPath, nums[i], label, path.Base(dir))
		}
		listed[dir] = true
	}
	dirs := make([]string, 0, len(folder))
	for d := range folder {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if !listed[d] {
			return fmt.Errorf("%s: study %s is in the folder but not listed", csvPath, d)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func prefixAll(parts []string, suffix string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p + suffix
	}
	return out
}

// ReadGray decodes any PNG (8- or 16-bit grey, RGB, RGBA, paletted) to 8-bit
// grey with the standard library's luma weights (color.GrayModel).
func ReadGray(p string) (*image.Gray, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeGray(f, p)
}

func decodeGray(r io.Reader, name string) (*image.Gray, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkDeclaredSize(data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	src, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := src.Bounds()
	dst := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch s := src.(type) {
	case *image.Gray:
		for y := 0; y < b.Dy(); y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+b.Dx()], s.Pix[(y)*s.Stride:(y)*s.Stride+b.Dx()])
		}
	case *image.Gray16:
		for y := 0; y < b.Dy(); y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < b.Dx(); x++ {
				dst.Pix[y*dst.Stride+x] = row[2*x] // high byte, as color.GrayModel does
			}
		}
	default:
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				dst.Pix[y*dst.Stride+x] = color.GrayModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			}
		}
	}
	return dst, nil
}
