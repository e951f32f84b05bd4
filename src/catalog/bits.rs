//! Sets of catalog places (`programs.seq`) as bits, one a place, and the
//! few operations search needs on them. A set of a million places is 125
//! KB; and-ing two and counting the result costs about a nanosecond per 64
//! places, whatever the number of programs in them.

/// Words of `places` places.
pub fn words_for(places: usize) -> usize {
    places.div_ceil(64)
}

/// Sets or clears place `at`, growing `bits` as needed.
pub fn put(bits: &mut Vec<u64>, at: usize, on: bool) {
    let (word, bit) = (at / 64, 1u64 << (at % 64));
    if bits.len() <= word {
        if !on {
            return;
        }
        bits.resize(word + 1, 0);
    }
    if on {
        bits[word] |= bit;
    } else {
        bits[word] &= !bit;
    }
}

/// Whether place `at` is set.
pub fn has(bits: &[u64], at: usize) -> bool {
    bits.get(at / 64).is_some_and(|w| w >> (at % 64) & 1 != 0)
}

/// The places of ascending `ids` as bits.
pub fn of_ids(ids: &[u32]) -> Box<[u64]> {
    let mut bits = vec![0u64; ids.last().map_or(0, |&l| words_for(l as usize + 1))];
    for &id in ids {
        bits[id as usize / 64] |= 1 << (id % 64);
    }
    bits.into_boxed_slice()
}

/// `dst &= src` (words `src` lacks are empty).
pub fn and(dst: &mut [u64], src: &[u64]) {
    let n = src.len().min(dst.len());
    for (d, s) in dst[..n].iter_mut().zip(&src[..n]) {
        *d &= s;
    }
    dst[n..].fill(0);
}

/// `dst |= src`.
pub fn or(dst: &mut [u64], src: &[u64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d |= s;
    }
}

/// `dst &= !src`.
pub fn and_not(dst: &mut [u64], src: &[u64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d &= !s;
    }
}

#[inline(always)]
fn count_and_plain(a: &[u64], b: &[u64]) -> u64 {
    a.iter().zip(b).map(|(x, y)| u64::from((x & y).count_ones())).sum()
}

#[inline(always)]
fn count_plain(a: &[u64]) -> u64 {
    a.iter().map(|x| u64::from(x.count_ones())).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    // The same loops compiled for CPUs that count bits in one instruction
    // (POPCNT) or 256 at a time (AVX2); the default target has neither.
    #[target_feature(enable = "popcnt,avx2")]
    pub fn count_and_avx2(a: &[u64], b: &[u64]) -> u64 {
        super::count_and_plain(a, b)
    }
    #[target_feature(enable = "popcnt")]
    pub fn count_and_popcnt(a: &[u64], b: &[u64]) -> u64 {
        super::count_and_plain(a, b)
    }
    #[target_feature(enable = "popcnt,avx2")]
    pub fn count_avx2(a: &[u64]) -> u64 {
        super::count_plain(a)
    }
    #[target_feature(enable = "popcnt")]
    pub fn count_popcnt(a: &[u64]) -> u64 {
        super::count_plain(a)
    }
}

/// How many places `a` and `b` both have.
pub fn count_and(a: &[u64], b: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has both features, checked just above.
            return unsafe { x86::count_and_avx2(a, b) };
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has POPCNT, checked just above.
            return unsafe { x86::count_and_popcnt(a, b) };
        }
    }
    count_and_plain(a, b)
}

/// How many places `a` has.
pub fn count(a: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has both features, checked just above.
            return unsafe { x86::count_avx2(a) };
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has POPCNT, checked just above.
            return unsafe { x86::count_popcnt(a) };
        }
    }
    count_plain(a)
}

/// The places of `bits`, in descending order.
pub fn descending(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().rev().flat_map(|(w, &word)| {
        let mut x = word;
        std::iter::from_fn(move || {
            (x != 0).then(|| {
                let b = 63 - x.leading_zeros() as usize;
                x &= !(1u64 << b);
                w * 64 + b
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sets_agree_with_a_plain_set() {
        let ids: Vec<u32> = (0..5000u32).filter(|i| i % 7 == 0 || i % 11 == 3).collect();
        let bits = of_ids(&ids);
        assert_eq!(count(&bits), ids.len() as u64);
        assert_eq!(
            descending(&bits).collect::<Vec<_>>(),
            ids.iter().rev().map(|&i| i as usize).collect::<Vec<_>>()
        );
        let other = of_ids(&(0..5000u32).filter(|i| i % 2 == 0).collect::<Vec<_>>());
        let both = ids.iter().filter(|&&i| i % 2 == 0).count() as u64;
        assert_eq!(count_and(&bits, &other), both);
        assert_eq!(count_and_plain(&bits, &other), both);
        let mut x = bits.to_vec();
        and(&mut x, &other[..10]);
        assert_eq!(count(&x), ids.iter().filter(|&&i| i % 2 == 0 && i < 640).count() as u64);
        let mut y = bits.to_vec();
        and_not(&mut y, &other);
        assert_eq!(count(&y), ids.len() as u64 - both);
        or(&mut y, &other);
        assert!(has(&y, 4998) && has(&y, 7) && !has(&y, 1) && !has(&y, 1 << 20));
        let mut v = Vec::new();
        put(&mut v, 130, false);
        assert!(v.is_empty(), "clearing a place past the end grows nothing");
        put(&mut v, 130, true);
        assert_eq!((v.len(), has(&v, 130)), (3, true));
        put(&mut v, 130, false);
        assert!(!has(&v, 130));
    }
}
