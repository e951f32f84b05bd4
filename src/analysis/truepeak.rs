//! True peak (ITU-R BS.1770-4, annex 2): the highest absolute value of the
//! signal oversampled 4× (at 48 kHz), with the very interpolator of the
//! `ebur128` crate (a Hann-windowed sinc of 48 taps, 12 per phase), and the
//! same result, but without oversampling the whole signal.
//!
//! An interpolated value is a weighted sum of the 12 samples before it, so
//! it is at most `gain` (the largest sum of one phase's absolute weights)
//! times the largest of those samples. A stretch of samples whose largest
//! value times `gain` stays below the peak found so far cannot raise it, and
//! is skipped; the peak found so far starts at the sample peak (a true peak
//! is never below it). Programme audio rarely comes near its peak, so most
//! stretches are skipped, and the measurement no longer costs more than the
//! decoding (the crate's meter oversamples every sample: four times the
//! rest of the loudness measurement).

use std::f64::consts::PI;

const TAPS: usize = 12;
const PHASES: usize = 4;
/// Samples per stretch that is kept or skipped as a whole.
const STRETCH: usize = 64;

/// The interpolator's weights, `[tap][phase]`, as `ebur128` computes them.
fn weights() -> [[f32; PHASES]; TAPS] {
    let mut w = [[0f32; PHASES]; TAPS];
    let window = (TAPS * PHASES) as f64;
    for (j, coeff) in w.iter_mut().flat_map(|x| x.iter_mut()).enumerate() {
        let j = j as f64;
        let hann = 0.5 * (1.0 - f64::cos(2.0 * PI * j / window));
        let m = j - window / 2.0;
        *coeff = if m.abs() > 0.000001 {
            hann * f64::sin(m * PI / PHASES as f64) / (m * PI / PHASES as f64)
        } else {
            hann
        } as f32;
    }
    w
}

/// The true peak of interleaved 48 kHz samples, fed in pieces of whole frames.
pub(super) struct TruePeak {
    weights: [[f32; PHASES]; TAPS],
    /// No interpolated value exceeds this times the largest sample it is
    /// made of (with a margin for rounding).
    gain: f32,
    channels: usize,
    /// Each channel's last `TAPS - 1` samples (zeros at the start, as in the
    /// crate's interpolator), then the piece being measured.
    lanes: Vec<Vec<f32>>,
    /// The highest absolute value so far, sample or interpolated.
    peak: f32,
}

impl TruePeak {
    pub(super) fn new(channels: usize) -> Self {
        let weights = weights();
        let gain = (0..PHASES)
            .map(|p| weights.iter().map(|t| f64::from(t[p].abs())).sum::<f64>())
            .fold(0.0, f64::max);
        Self {
            weights,
            gain: (gain * 1.001) as f32,
            channels,
            lanes: vec![vec![0.0; TAPS - 1]; channels],
            peak: 0.0,
        }
    }

    /// The true peak so far (linear; 1.0 is full scale).
    pub(super) fn peak(&self) -> f32 {
        self.peak
    }

    /// Adds interleaved samples (a whole number of frames).
    pub(super) fn add(&mut self, samples: &[f32]) {
        let frames = samples.len() / self.channels;
        for (c, lane) in self.lanes.iter_mut().enumerate() {
            lane.truncate(TAPS - 1);
            lane.extend(samples.iter().skip(c).step_by(self.channels).take(frames));
        }
        // A true peak is never below the sample peak.
        for lane in &self.lanes {
            self.peak = lane[TAPS - 1..].iter().fold(self.peak, |m, s| m.max(s.abs()));
        }
        for lane in &self.lanes {
            // Output `n` (0-based in this piece) is made of lane[n..n + TAPS].
            let mut start = 0;
            while start < frames {
                let end = (start + STRETCH).min(frames);
                let loudest = lane[start..end + TAPS - 1].iter().fold(0f32, |m, s| m.max(s.abs()));
                if loudest * self.gain >= self.peak {
                    for n in start..end {
                        let mut out = [0f32; PHASES];
                        // Newest sample first, as the crate's interpolator sums.
                        for (t, w) in self.weights.iter().enumerate() {
                            let x = lane[n + TAPS - 1 - t];
                            for p in 0..PHASES {
                                out[p] += x * w[p];
                            }
                        }
                        for y in out {
                            self.peak = self.peak.max(y.abs());
                        }
                    }
                }
                start = end;
            }
        }
        for lane in &mut self.lanes {
            let keep = lane.len() - (TAPS - 1);
            lane.drain(..keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use ebur128::{EbuR128, Mode};

    use super::*;

    /// The crate's true peak of the same samples, over all channels.
    fn crate_peak(channels: usize, samples: &[f32]) -> f32 {
        let mut e = EbuR128::new(channels as u32, 48_000, Mode::TRUE_PEAK).unwrap();
        e.add_frames_f32(samples).unwrap();
        (0..channels as u32)
            .map(|c| e.true_peak(c).unwrap() as f32)
            .fold(0.0, f32::max)
    }

    /// Equal but for the last bit (the crate's value may be the sample
    /// peak or the interpolated value at a sample, which differ by rounding).
    fn same(a: f32, b: f32) -> bool {
        (a - b).abs() <= 1e-6 * b.abs().max(1e-3)
    }

    fn ours(channels: usize, samples: &[f32], piece: usize) -> f32 {
        let mut tp = TruePeak::new(channels);
        for p in samples.chunks(piece * channels) {
            tp.add(p);
        }
        tp.peak()
    }

    fn noise(n: usize, seed: u32, amplitude: f32) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 - 0.5) * 2.0 * amplitude
            })
            .collect()
    }

    #[test]
    fn the_same_peak_as_the_crate_on_noise_in_any_pieces() {
        for channels in [1, 2, 6] {
            let s = noise(48_000 * channels, 7 + channels as u32, 0.3);
            let want = crate_peak(channels, &s);
            for piece in [1, 63, 64, 1000, 48_000] {
                let got = ours(channels, &s, piece);
                assert!(
                    same(got, want),
                    "{channels} channels, pieces of {piece}: {got} vs {want}"
                );
            }
        }
    }

    /// A sine at a quarter of the rate, 45° off the samples: every sample is
    /// at 0.707 of the wave's top, which only the oversampling sees (the
    /// true-peak case of EBU Tech 3341 is built this way).
    #[test]
    fn an_inter_sample_peak_is_found_as_the_crate_finds_it() {
        let s: Vec<f32> = (0..48_000)
            .flat_map(|n| {
                let v = (0.5 * (2.0 * PI * 12_000.0 * n as f64 / 48_000.0 + PI / 4.0).sin()) as f32;
                [v, v]
            })
            .collect();
        let want = crate_peak(2, &s);
        assert!(want > 0.49, "{want}");
        let got = ours(2, &s, 4096);
        assert!(same(got, want), "{got} vs {want}");
    }

    /// Quiet noise with one loud burst late, and a spike at a piece's edge:
    /// the stretches skipped before never hide it.
    #[test]
    fn a_late_burst_and_a_spike_at_an_edge_are_not_skipped() {
        let mut s = noise(2 * 96_000, 3, 0.05);
        for (i, v) in noise(2 * 300, 5, 0.9).into_iter().enumerate() {
            s[2 * 80_000 + i] = v;
        }
        s[2 * 4096 - 1] = -0.7;
        s[2 * 4096] = 0.7;
        let want = crate_peak(2, &s);
        for piece in [4096, 777] {
            let got = ours(2, &s, piece);
            assert!(same(got, want), "pieces of {piece}: {got} vs {want}");
        }
    }
}
