//! The one device-selection function of burnzoo.
//!
//! `--device` takes `cpu` (the pure-Rust `flex` backend, always available), `wgpu` (best GPU found
//! by wgpu: Vulkan, Metal or DX12), `wgpu:N` (the N-th discrete GPU), `wgpu:cpu` (wgpu's CPU
//! adapter, e.g. Mesa's lavapipe), `cuda` or `cuda:N`. GPU backends are cargo features of the
//! binaries; asking for one that was not compiled in is an error that says how to enable it.

use burn::tensor::Device;
#[cfg(feature = "wgpu")]
use burn::tensor::DeviceKind;

/// A `--device` value that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Not a device name at all.
    #[error("unknown device `{0}`: expected cpu, wgpu, wgpu:N, wgpu:cpu, cuda or cuda:N")]
    Unknown(String),
    /// A known backend that this binary was built without.
    #[error(
        "device `{spec}` needs the `{feature}` backend, which this binary was built without; rebuild \
         with `cargo build --release --features {feature}` (or use `--device cpu`)"
    )]
    NotCompiled {
        /// What was asked.
        spec: String,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// A device index that is not a number.
    #[error("device `{0}`: the part after `:` must be a GPU index such as 0 or 1")]
    BadIndex(String),
    /// An empty device list.
    #[error("no device given")]
    Empty,
}

/// Where a parsed `--device` value points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The flex CPU backend.
    Cpu,
    /// wgpu: `None` = best available, `Some(i)` = i-th discrete GPU.
    Wgpu(Option<usize>),
    /// wgpu's CPU adapter (software Vulkan).
    WgpuCpu,
    /// CUDA device index.
    Cuda(usize),
}

impl DeviceSpec {
    /// Parses a `--device` value without creating the device.
    pub fn parse(spec: &str) -> Result<Self, DeviceError> {
        let s = spec.trim().to_ascii_lowercase();
        let (name, index) = match s.split_once(':') {
            Some((n, i)) => (n, Some(i)),
            None => (s.as_str(), None),
        };
        let parse_index = |i: Option<&str>| -> Result<Option<usize>, DeviceError> {
            i.map(|i| {
                i.parse::<usize>()
                    .map_err(|_| DeviceError::BadIndex(spec.to_string()))
            })
            .transpose()
        };
        match name {
            "cpu" | "flex" if index.is_none() => Ok(Self::Cpu),
            "wgpu" if index == Some("cpu") => Ok(Self::WgpuCpu),
            "wgpu" => Ok(Self::Wgpu(parse_index(index)?)),
            "cuda" => Ok(Self::Cuda(parse_index(index)?.unwrap_or(0))),
            _ => Err(DeviceError::Unknown(spec.to_string())),
        }
    }

    /// Creates the device, or says which cargo feature is missing.
    pub fn device(&self, spec: &str) -> Result<Device, DeviceError> {
        // Unused when every backend is compiled in.
        #[cfg_attr(all(feature = "wgpu", feature = "cuda"), allow(unused_variables))]
        let missing = |feature| DeviceError::NotCompiled {
            spec: spec.to_string(),
            feature,
        };
        match self {
            Self::Cpu => {
                tune_cpu_allocator();
                Ok(Device::flex())
            }
            #[cfg(feature = "wgpu")]
            Self::Wgpu(None) => Ok(Device::wgpu(DeviceKind::DefaultDevice)),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(Some(i)) => Ok(Device::wgpu(DeviceKind::DiscreteGpu(*i))),
            #[cfg(feature = "wgpu")]
            Self::WgpuCpu => Ok(Device::wgpu(DeviceKind::Cpu)),
            #[cfg(not(feature = "wgpu"))]
            Self::Wgpu(_) | Self::WgpuCpu => Err(missing("wgpu")),
            #[cfg(feature = "cuda")]
            Self::Cuda(i) => Ok(Device::cuda(*i)),
            #[cfg(not(feature = "cuda"))]
            Self::Cuda(_) => Err(missing("cuda")),
        }
    }
}

/// Runs `body` on a thread of rayon's global pool (the pool Burn's CPU backend and zoo-kernels
/// split their work over), built here with 64 MiB stacks unless something built it before.
///
/// Called from a thread outside the pool, every parallel operation hands its work to the pool
/// and puts the caller to sleep until a worker wakes it: a few tens of microseconds per
/// operation, which on small models is a large part of the step (the tiny PromptSRC's inference
/// spent about a quarter of its time switching threads). From inside the pool the caller works
/// on its own operation's tasks instead.
pub fn in_thread_pool<R: Send>(body: impl FnOnce() -> R + Send) -> R {
    // An error only means the pool exists already (built by a caller or used before).
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(64 << 20)
        .build_global();
    rayon::scope(|_| body())
}

/// Makes glibc's allocator keep freed memory for reuse; done once, when the CPU device is chosen.
///
/// A CPU backend's tensors are large, short-lived allocations. glibc serves each one above its
/// mmap threshold (at most 32 MB) with a fresh `mmap` and unmaps it on free, so every such
/// intermediate paid page faults and the kernel's zeroing: about 15 % of PONITA's inference in
/// a profile, and YOLOv9-T at batch 8 ran 1.5x slower for it (BENCHMARKS.md). With
/// `M_MMAP_MAX` 0 every allocation comes from the heap, and `M_TRIM_THRESHOLD` / `M_TOP_PAD`
/// keep freed heap memory instead of returning it at once; the process's resident memory then
/// stays near its peak. (A worker thread's block above about 64 MB, the most one of glibc's
/// per-thread heaps holds, is still mmapped.) Other platforms and allocators are left alone. A program that embeds a
/// model crate and creates `Device::flex()` itself may call this too.
pub fn tune_cpu_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes glibc's allocation parameters (thread-safe; memory
            // already handed out is unaffected).
            unsafe {
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
                libc::mallopt(libc::M_TOP_PAD, 256 << 20);
            }
        });
    }
}

/// Maps a `--device` value to a Burn device (without autodiff; training adds it).
pub fn parse_device(spec: &str) -> Result<Device, DeviceError> {
    DeviceSpec::parse(spec)?.device(spec)
}

/// Maps a comma-separated `--devices` list (e.g. `cpu,cpu` or `cuda:0,cuda:1`) to devices.
pub fn parse_devices(list: &str) -> Result<Vec<Device>, DeviceError> {
    let devices = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_device)
        .collect::<Result<Vec<_>, _>>()?;
    if devices.is_empty() {
        return Err(DeviceError::Empty);
    }
    Ok(devices)
}

/// The backends compiled into this binary, for `--help` texts and reports.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut b = vec!["cpu"];
    if cfg!(feature = "wgpu") {
        b.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        b.push("cuda");
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After choosing the CPU device a 40 MB block comes from the heap: glibc's count of bytes in
    /// mmapped blocks does not grow by it (by default it would: the block is above the largest
    /// mmap threshold glibc adapts to, 32 MB).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_cpu_device_serves_large_blocks_from_the_heap() {
        parse_device("cpu").unwrap();
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let mmapped = || unsafe { libc::mallinfo2() }.hblkhd;
        let before = mmapped();
        let block = std::hint::black_box(vec![1u8; 40 << 20]);
        let during = mmapped();
        drop(block);
        assert!(
            during < before + (40 << 20),
            "a 40 MB block was mmapped: {before} -> {during} bytes in mmapped blocks"
        );
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(DeviceSpec::parse("cpu"), Ok(DeviceSpec::Cpu));
        assert_eq!(DeviceSpec::parse(" CPU "), Ok(DeviceSpec::Cpu));
        assert_eq!(DeviceSpec::parse("wgpu"), Ok(DeviceSpec::Wgpu(None)));
        assert_eq!(DeviceSpec::parse("wgpu:1"), Ok(DeviceSpec::Wgpu(Some(1))));
        assert_eq!(DeviceSpec::parse("wgpu:cpu"), Ok(DeviceSpec::WgpuCpu));
        assert_eq!(DeviceSpec::parse("cuda"), Ok(DeviceSpec::Cuda(0)));
        assert_eq!(DeviceSpec::parse("cuda:3"), Ok(DeviceSpec::Cuda(3)));
        assert_eq!(
            DeviceSpec::parse("cuda:x"),
            Err(DeviceError::BadIndex("cuda:x".into()))
        );
        assert_eq!(DeviceSpec::parse("tpu"), Err(DeviceError::Unknown("tpu".into())));
        assert_eq!(
            DeviceSpec::parse("cpu:1"),
            Err(DeviceError::Unknown("cpu:1".into()))
        );
    }

    #[test]
    fn cpu_always_works_and_lists_parse() {
        assert!(parse_device("cpu").is_ok());
        assert_eq!(parse_devices("cpu, cpu").unwrap().len(), 2);
        assert_eq!(parse_devices(" , ").unwrap_err(), DeviceError::Empty);
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn missing_backend_names_the_feature() {
        let err = parse_device("cuda:1").unwrap_err();
        assert_eq!(
            err,
            DeviceError::NotCompiled {
                spec: "cuda:1".into(),
                feature: "cuda"
            }
        );
        assert!(err.to_string().contains("--features cuda"), "{err}");
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn missing_wgpu_names_the_feature() {
        let err = parse_devices("cpu,wgpu").unwrap_err();
        assert!(err.to_string().contains("--features wgpu"), "{err}");
    }
}
