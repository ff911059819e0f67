package inflate

// Decoding of dynamic block headers and of compressed block data.

func (r *Reader) dynHeader() bool {
	if !r.ensure(14) {
		return false
	}
	r.nlit = int(r.take(5)) + 257
	r.ndist = int(r.take(5)) + 1
	r.nclen = int(r.take(4)) + 4
	if r.nlit > 286 || r.ndist > 30 {
		return r.corrupt("too many length or distance codes")
	}
	r.idx = 0
	clear(r.lens[:len(clOrder)])
	r.st = stCLens
	return true
}

// codeLenLens reads the lengths of the code length code.
func (r *Reader) codeLenLens() bool {
	var cl [len(clOrder)]uint8
	for ; r.idx < r.nclen; r.idx++ {
		if !r.ensure(3) {
			return false
		}
		r.lens[clOrder[r.idx]] = uint8(r.take(3))
	}
	copy(cl[:], r.lens[:len(clOrder)])
	if r.clTable.build(cl[:]) != nil {
		return r.corrupt("invalid code length code")
	}
	r.idx = 0
	r.st = stLens
	return true
}

// codeLens reads the literal/length and distance code lengths, one
// symbol with its repeat bits at a time.
func (r *Reader) codeLens() bool {
	total := r.nlit + r.ndist
	for r.idx < total {
		sym, n, ok := r.peekSym(&r.clTable)
		if !ok {
			return false
		}
		if sym < 16 {
			r.take(n)
			r.lens[r.idx] = uint8(sym)
			r.idx++
			continue
		}
		extra, base := uint(2), 3
		switch sym {
		case 17:
			extra = 3
		case 18:
			extra, base = 7, 11
		}
		if !r.ensure(n + extra) {
			return false
		}
		r.take(n)
		rep := base + int(r.take(extra))
		var v uint8
		if sym == 16 {
			if r.idx == 0 {
				return r.corrupt("repeat with no previous length")
			}
			v = r.lens[r.idx-1]
		}
		if r.idx+rep > total {
			return r.corrupt("code lengths overflow")
		}
		for end := r.idx + rep; r.idx < end; r.idx++ {
			r.lens[r.idx] = v
		}
	}
	if r.lens[256] == 0 {
		return r.corrupt("no end-of-block code")
	}
	if r.dynLit.build(r.lens[:r.nlit]) != nil || r.dynDist.build(r.lens[r.nlit:total]) != nil {
		return r.corrupt("invalid literal/length or distance code")
	}
	r.lit, r.dst = &r.dynLit, &r.dynDist
	r.st = stSym
	return true
}

// symbols decodes literals until a length, the end of the block, or until
// it must stop.
func (r *Reader) symbols(want int) bool {
	for r.unread < want {
		if r.nbits < 32 {
			r.topUp()
		}
		sym, n, ok := r.peekSym(r.lit)
		if !ok {
			return false
		}
		if sym < 256 {
			r.bits >>= n
			r.nbits -= n
			r.win[r.wpos] = byte(sym)
			r.wpos = (r.wpos + 1) & winMask
			r.unread++
			if r.hist < winSize {
				r.hist++
			}
			continue
		}
		if sym == 256 {
			r.take(n)
			r.endBlock()
			return true
		}
		sym -= 257
		if sym >= len(lenBase) {
			return r.corrupt("invalid length code")
		}
		extra := uint(lenExtra[sym])
		if !r.ensure(n + extra) {
			return false
		}
		r.take(n)
		r.copyLen = int(lenBase[sym]) + int(r.take(extra))
		r.st = stDist
		if !r.distance() {
			return false
		}
		r.copyMatch(want)
		if r.st != stSym {
			return true
		}
	}
	return true
}

// distance decodes the distance of a pending length.
func (r *Reader) distance() bool {
	sym, n, ok := r.peekSym(r.dst)
	if !ok {
		return false
	}
	if sym >= len(distBase) {
		return r.corrupt("invalid distance code")
	}
	extra := uint(distExtra[sym])
	if !r.ensure(n + extra) {
		return false
	}
	r.take(n)
	r.dist = int(distBase[sym]) + int(r.take(extra))
	if r.dist > r.hist {
		return r.corrupt("distance too far back")
	}
	r.st = stCopy
	return true
}

// copyMatch copies the pending back-reference, as far as the window's
// unread room and want allow.
func (r *Reader) copyMatch(want int) bool {
	for r.copyLen > 0 {
		room := min(want, winSize) - r.unread
		if room <= 0 {
			return true
		}
		from := (r.wpos - r.dist) & winMask
		k := min(r.copyLen, room, winSize-r.wpos, winSize-from, r.dist)
		copy(r.win[r.wpos:r.wpos+k], r.win[from:from+k])
		r.advance(k)
		r.copyLen -= k
	}
	r.st = stSym
	return true
}
