package estimate

// vLLM V1's multimodal profile (docs/VLLM-ENCODER.md, read in vLLM's
// source at v0.19.0–v0.21.0): before the language model's dummy run,
// profile_run runs the vision encoder on a dummy batch of the modality
// with the most tokens per item, as many items as the encoder budget
// takes, and keeps the encoder's outputs and the batch's pixels until the
// language model's run is over. The torch peak is therefore
//
//	max(pixels + the encoder's largest block, the LM's peak + outputs + pixels)
//
// (§1.1, §3.3). Sized for the towers whose processor and block were read:
// Qwen2-VL/Qwen2.5-VL, Qwen3-VL and Qwen3.5, Gemma 3's SigLIP; the others
// (Pixtral, Llama 4, Phi-4-multimodal) stay unmodelled.

// vllmEncoderFrom is the first release whose encoder profile is sized.
var vllmEncoderFrom = Version{0, 19, 0}

// qwenVLMaxPixels is Qwen2-VL/Qwen2.5-VL's image processor max_pixels
// (12845056 = 3584², the published preprocessor_config.json; vLLM's
// get_image_size_with_most_features factors it, docs/VLLM-ENCODER.md §2.1).
const qwenVLMaxPixels = 12845056

// qwenVLMaxFrames is _MAX_FRAMES_PER_VIDEO (docs/VLLM-ENCODER.md §2.1).
const qwenVLMaxFrames = 14

// qwen3VLImagePixels and qwen3VLVideoPixels are Qwen3-VL's and Qwen3.5's
// published processor limits (size.longest_edge of preprocessor_config.json
// and video_preprocessor_config.json: 4096² and 25165824); vLLM's dummy
// video is two frames of video_pixels/2 whatever max_model_len
// (docs/VLLM-ENCODER.md §2.2).
const (
	qwen3VLImagePixels = 16777216
	qwen3VLVideoPixels = 25165824
)

// vllmEncoder is one encoder profile: its phase's peak and what it leaves
// held through the language model's run.
type vllmEncoder struct {
	peak, held Bytes
	// pix is held's pixel batch, which Model Runner V2 frees before the
	// language model's run (docs/VLLM-ENCODER.md §1.6).
	pix      Bytes
	items    int
	tokens   int // per item
	modality string
}

// encoderProfile sizes the encoder's part of the profile at max_model_len
// mml with n batched tokens; ok is false when the model has none or its
// tower is not sized.
func (r *vllmRun) encoderProfile(mml, n int) (vllmEncoder, bool) {
	// The searches ask again and again for the same few starts.
	if c := &r.encMemo; c.set && c.mml == mml && c.n == n {
		return c.e, c.ok
	}
	e, ok := r.sizeEncoder(mml, n)
	r.encMemo = encoderMemo{set: true, mml: mml, n: n, e: e, ok: ok}
	return e, ok
}

// encoderMemo is the last encoderProfile answer.
type encoderMemo struct {
	set, ok bool
	mml, n  int
	e       vllmEncoder
}

func (r *vllmRun) sizeEncoder(mml, n int) (vllmEncoder, bool) {
	t := &r.m.VisionTower
	if !r.m.Vision || r.mmProfileOff() || !r.prof.v1 || r.prof.v.Less(vllmEncoderFrom) || r.mrv2NoEncoder() {
		return vllmEncoder{}, false
	}
	var e vllmEncoder
	var patches, pixPerPatch int64 // per item
	switch {
	case t.Kind == VisionQwen25VL && t.PatchSize > 0 && t.SpatialMerge > 0:
		unit := t.PatchSize * t.SpatialMerge
		image := qwenVLMaxPixels / (unit * unit)
		e.tokens, e.modality = image, "image"
		// A video of frames pairs up to max_model_len (at most 14 frames)
		// ties with an image at one pair and wins above; ties go to video.
		if !r.s.NoVideo {
			e.tokens, e.modality = image*max(1, min(qwenVLMaxFrames/2, mml/image)), "video"
		}
		patches = int64(e.tokens) * int64(t.SpatialMerge*t.SpatialMerge)
		pixPerPatch = int64(max(t.InChannels, 3) * max(t.TemporalPatch, 1) * t.PatchSize * t.PatchSize)
	case t.Kind == VisionQwen3VL && t.PatchSize > 0 && t.SpatialMerge > 0:
		unit := t.PatchSize * t.SpatialMerge
		image, video := qwen3VLImagePixels/(unit*unit), qwen3VLVideoPixels/2/(unit*unit)
		e.tokens, e.modality = image, "image"
		if video >= image && !r.s.NoVideo {
			e.tokens, e.modality = video, "video"
		}
		patches = int64(e.tokens) * int64(t.SpatialMerge*t.SpatialMerge)
		pixPerPatch = int64(max(t.InChannels, 3) * max(t.TemporalPatch, 1) * t.PatchSize * t.PatchSize)
	case t.Kind == VisionSiglip && (r.m.Type == "gemma3" || r.m.Type == "gemma3_text") && t.PatchSize > 0 && t.ImageSize > 0:
		side := t.ImageSize / t.PatchSize
		e.tokens, e.modality = (side/4)*(side/4), "image" // 4×4 average pooling: 256
		patches = int64(side * side)
		pixPerPatch = int64(max(t.InChannels, 3) * t.PatchSize * t.PatchSize)
	default:
		return vllmEncoder{}, false
	}
	// MultiModalBudget: the budget is max(max_num_batched_tokens, tokens
	// per item); items = max(1, min(budget // T, max_num_seqs ·
	// max(1, min(999, max_model_len // T)))) (§1.2, §1.3).
	budget := max(n, e.tokens)
	e.items = max(1, min(budget/e.tokens, r.seqsAt(n)*max(1, min(999, mml/e.tokens))))
	nn := int64(e.items) * patches
	h, i := int64(t.Hidden), int64(t.Intermediate)
	pix := nn * pixPerPatch * r.elt
	out := int64(r.m.Hidden)
	if t.Kind == VisionQwen3VL {
		// The merger's output and the DeepStack features, concatenated.
		out = int64(max(t.OutHidden, 1)) * int64(1+t.Deepstack)
	}
	e.pix = Bytes(pix)
	e.held = Bytes(pix + int64(e.items)*int64(e.tokens)*out*r.elt)
	e.peak = Bytes(pix + r.encoderBlock(nn, h, i))
	return e, true
}

// encoderBlock is the encoder's largest block in bytes for nn patches
// (§3.2): Qwen2.5-VL max(10NH + 6NI, 22NH) with the default compile mode's
// unfused fp32 norm (6NH + 6NI under --enforce-eager), Qwen3-VL max(6NH +
// 4NI, 22NH) plus the DeepStack features kept so far (N/4 × out_hidden
// each), SigLIP max(6NH + 4NI, 14NH); in units of 2-byte elements, scaled
// to the dtype.
func (r *vllmRun) encoderBlock(nn, h, i int64) int64 {
	t := &r.m.VisionTower
	var b int64
	switch t.Kind {
	case VisionQwen25VL:
		b = max(10*nn*h+6*nn*i, 22*nn*h)
		if r.s.EnforceEager {
			b = max(6*nn*h+6*nn*i, 22*nn*h)
		}
	case VisionQwen3VL:
		b = max(6*nn*h+4*nn*i, 22*nn*h) + int64(t.Deepstack)*nn/4*int64(t.OutHidden)*2
	default:
		b = max(6*nn*h+4*nn*i, 14*nn*h)
	}
	return b * r.elt / 2
}

// mmProfileOff reports a --limit-mm-per-prompt that turns every modality
// of the model off, so vLLM skips the encoder's profile: image 0, and
// video 0 for the Qwen towers, which take videos (§1.2).
func (r *vllmRun) mmProfileOff() bool {
	switch r.m.VisionTower.Kind {
	case VisionQwen25VL, VisionQwen3VL:
		return r.s.TextOnly && r.s.NoVideo
	}
	return r.s.TextOnly
}

// encoderSized reports whether this start's encoder profile is sized.
func (r *vllmRun) encoderSized() bool {
	_, ok := r.encoderProfile(r.mml, max(r.mnbt, 1))
	return ok
}
