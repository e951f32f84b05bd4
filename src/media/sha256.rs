//! SHA-256 whose state can be saved and restored, so that a resumable upload
//! is hashed once, as its bytes arrive, across requests and restarts.
//! (`sha2` keeps its state private; its block function is public.)

use sha2::digest::generic_array::typenum::U64;
use sha2::digest::generic_array::GenericArray;

type Block = GenericArray<u8, U64>;
/// Blocks handed to the compression function at once.
const BATCH: usize = 64;

const INITIAL: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumableSha256 {
    state: [u32; 8],
    /// Bytes hashed so far.
    len: u64,
    /// The bytes of an incomplete block.
    pending: Vec<u8>,
}

impl Default for ResumableSha256 {
    fn default() -> Self {
        Self {
            state: INITIAL,
            len: 0,
            pending: Vec::with_capacity(64),
        }
    }
}

impl ResumableSha256 {
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.pending.is_empty() {
            let take = (64 - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() < 64 {
                return;
            }
            let block = GenericArray::clone_from_slice(&self.pending);
            sha2::compress256(&mut self.state, &[block]);
            self.pending.clear();
        }
        let whole = data.len() / 64 * 64;
        // Whole blocks, 64 at a time through one buffer on the stack.
        let mut blocks = [Block::default(); BATCH];
        for batch in data[..whole].chunks(64 * BATCH) {
            let n = batch.len() / 64;
            for (block, bytes) in blocks.iter_mut().zip(batch.chunks_exact(64)) {
                block.copy_from_slice(bytes);
            }
            sha2::compress256(&mut self.state, &blocks[..n]);
        }
        self.pending.extend_from_slice(&data[whole..]);
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finalize(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let mut tail = std::mem::take(&mut self.pending);
        tail.push(0x80);
        while tail.len() % 64 != 56 {
            tail.push(0);
        }
        tail.extend_from_slice(&bits.to_be_bytes());
        let blocks: Vec<GenericArray<u8, _>> = tail.chunks_exact(64).map(GenericArray::clone_from_slice).collect();
        sha2::compress256(&mut self.state, &blocks);
        let mut out = [0u8; 32];
        for (o, word) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// The state as bytes: 32 of state, 8 of length, then the pending block.
    pub fn save(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.pending.len());
        for w in self.state {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.pending);
        out
    }

    pub fn restore(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < 40 || bytes.len() >= 40 + 64 {
            return None;
        }
        let mut state = [0u32; 8];
        for (w, b) in state.iter_mut().zip(bytes[..32].chunks_exact(4)) {
            *w = u32::from_be_bytes(b.try_into().ok()?);
        }
        let len = u64::from_be_bytes(bytes[32..40].try_into().ok()?);
        let pending = bytes[40..].to_vec();
        (len % 64 == pending.len() as u64).then_some(Self { state, len, pending })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn matches_sha2_for_every_split_and_survives_a_save() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
        for n in [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 1000] {
            let expected: [u8; 32] = Sha256::digest(&data[..n]).into();
            for split in [0, 1, 3, 63, 64, 65, n / 2, n] {
                let split = split.min(n);
                let mut h = ResumableSha256::default();
                h.update(&data[..split]);
                let mut h = ResumableSha256::restore(&h.save()).unwrap();
                h.update(&data[split..n]);
                assert_eq!(h.len(), n as u64);
                assert_eq!(h.finalize(), expected, "n={n} split={split}");
            }
        }
    }

    #[test]
    fn refuses_a_damaged_state() {
        let mut h = ResumableSha256::default();
        h.update(b"abc");
        let mut saved = h.save();
        saved.push(0);
        assert!(ResumableSha256::restore(&saved).is_none());
        assert!(ResumableSha256::restore(&[0; 10]).is_none());
    }
}
