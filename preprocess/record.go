// Package preprocess owns the images: reading MURA-style folders, the
// paper's patient-level split, and the gocv preprocessing pipeline
// (offline steps cached on disk, online steps per batch), with the
// labelling of ground-truth regions that eval's AUPRO needs. The synthetic
// generator that feeds it is package preprocess/synth. It knows nothing of
// runs, HTTP or SQL.
package preprocess

// Record is one radiograph as the loader found it. Labels are MURA's study
// labels: every image of a positive study is labelled 1.
type Record struct {
	Path     string `json:"path"`                // file path as opened (root joined with RelPath)
	RelPath  string `json:"rel_path"`            // slash-separated, relative to the dataset root
	Part     string `json:"part"`                // MURA's folder: "train" or "valid"
	BodyPart string `json:"body_part"`           // e.g. "XR_HAND"
	Patient  string `json:"patient"`             // the five digits after "patient"
	Study    string `json:"study"`               // unique study key: "<part>/<patient>/studyK"
	View     int    `json:"view"`                // M of imageM.png
	Label    int    `json:"label"`               // 1 = abnormal study
	Size     int64  `json:"size"`                // bytes on disk
	MaskPath string `json:"mask_path,omitempty"` // anomaly mask (synthetic data only)
	Half     int    `json:"half,omitempty"`      // 0 whole image; 1 left, 2 right hand after a two-hand split
	HandPath string `json:"hand_path,omitempty"` // reference hand mask imageM_hand.png beside the image, if any
}
