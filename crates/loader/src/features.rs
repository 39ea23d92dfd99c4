//! Whether this CPU has the instruction-set extensions an object's code may
//! use (its target's `features`, Cranelift's ISA flag names).

/// Whether this CPU lacks `feature`, as far as this build can tell: on
/// x86-64 and aarch64 a feature is present (or a code-generation policy that
/// needs nothing of the CPU) or lacking, and a name this build cannot
/// interpret counts as lacking (it may be an extension newer than this
/// loader); elsewhere std cannot ask the CPU and features are trusted.
pub(crate) fn host_lacks(feature: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let present = match feature {
            "has_sse3" => has!("sse3"),
            "has_ssse3" => has!("ssse3"),
            "has_cmpxchg16b" => has!("cmpxchg16b"),
            "has_sse41" => has!("sse4.1"),
            "has_sse42" => has!("sse4.2"),
            "has_avx" => has!("avx"),
            "has_avx2" => has!("avx2"),
            "has_fma" => has!("fma"),
            "has_avx_vnni" => has!("avxvnni"),
            "has_avx512bitalg" => has!("avx512bitalg"),
            "has_avx512dq" => has!("avx512dq"),
            "has_avx512vl" => has!("avx512vl"),
            "has_avx512vbmi" => has!("avx512vbmi"),
            "has_avx512f" => has!("avx512f"),
            "has_avx512vnni" => has!("avx512vnni"),
            "has_popcnt" => has!("popcnt"),
            "has_bmi1" => has!("bmi1"),
            "has_bmi2" => has!("bmi2"),
            "has_lzcnt" => has!("lzcnt"),
            _ => false,
        };
        !present
    }
    #[cfg(target_arch = "aarch64")]
    {
        use std::arch::is_aarch64_feature_detected as has;
        let present = match feature {
            "has_lse" => has!("lse"),
            "has_pauth" => has!("paca"),
            "has_fp16" => has!("fp16"),
            "has_dotprod" => has!("dotprod"),
            "has_i8mm" => has!("i8mm"),
            // Pointer signing and branch targets use hint-space instructions,
            // no-ops on CPUs without them; `csdb` is a hint too.
            "sign_return_address_all"
            | "sign_return_address"
            | "sign_return_address_with_bkey"
            | "use_bti"
            | "use_csdb" => true,
            _ => false,
        };
        !present
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = feature;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_refused_where_features_are_detectable() {
        let detectable = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
        assert_eq!(host_lacks("has_time_travel"), detectable);
    }
}
