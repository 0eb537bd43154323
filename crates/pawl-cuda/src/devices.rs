//! The GPUs of this host and which of them `--gpus` measures on.
//!
//! NVML lists every GPU of the host in PCI bus order (the order `nvidia-smi` numbers them). pawl then
//! applies its own `CUDA_VISIBLE_DEVICES` the way the CUDA driver does: entries are indices or
//! (prefixes of) UUIDs, and an entry that names no GPU hides it and every entry after it. `--gpus
//! 0,2` numbers the GPUs that remain, as a CUDA program started beside pawl would. Each worker is then
//! pinned to its GPU by UUID (`CUDA_VISIBLE_DEVICES=GPU-…`), which no ordering can confuse.
//!
//! CUDA numbers GPUs fastest first unless `CUDA_DEVICE_ORDER=PCI_BUS_ID`; on a host of one GPU model
//! (the only kind a run may spread over) the two orders agree. On a host of mixed models, name GPUs in
//! `CUDA_VISIBLE_DEVICES` by UUID.

use std::fmt;
use std::str::FromStr;

use nvml_wrapper::Nvml;
use serde::{Deserialize, Serialize};

/// One GPU: what pins a worker to it and what the testbed rule compares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// `GPU-xxxxxxxx-…`, as NVML and `nvidia-smi -L` print it.
    pub uuid: String,
    /// The model, as NVML names it (`NVIDIA H200`).
    pub name: String,
}

/// Why the GPUs cannot be listed or selected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeviceError(pub String);

/// Every GPU of the host, in PCI bus order, from NVML.
pub fn enumerate() -> Result<Vec<Device>, DeviceError> {
    let nvml = Nvml::init().map_err(|e| {
        DeviceError(format!(
            "cannot list the GPUs: NVML (libnvidia-ml, part of the NVIDIA driver) did not load: {e}"
        ))
    })?;
    let count = nvml.device_count().map_err(|e| DeviceError(format!("NVML cannot count the GPUs: {e}")))?;
    (0..count)
        .map(|index| {
            let failed = |what: &str, e: nvml_wrapper::error::NvmlError| {
                DeviceError(format!("NVML cannot read the {what} of GPU {index}: {e}"))
            };
            let device = nvml.device_by_index(index).map_err(|e| failed("handle", e))?;
            Ok(Device {
                uuid: device.uuid().map_err(|e| failed("UUID", e))?,
                name: device.name().map_err(|e| failed("name", e))?,
            })
        })
        .collect()
}

/// The GPUs a CUDA program sees under `cuda_visible_devices` (the variable's value; `None` when it is
/// not set), in its order.
pub fn visible(all: &[Device], cuda_visible_devices: Option<&str>) -> Result<Vec<Device>, DeviceError> {
    let Some(list) = cuda_visible_devices else { return Ok(all.to_vec()) };
    let mut seen: Vec<Device> = Vec::new();
    for entry in list.split(',').map(str::trim) {
        if entry.starts_with("MIG-") {
            return Err(DeviceError(format!(
                "CUDA_VISIBLE_DEVICES names the MIG instance `{entry}`: --gpus measures on whole GPUs only"
            )));
        }
        let found = if !entry.is_empty() && entry.bytes().all(|b| b.is_ascii_digit()) {
            entry.parse::<usize>().ok().and_then(|i| all.get(i))
        } else if entry.starts_with("GPU-") {
            let mut matches = all.iter().filter(|d| d.uuid.starts_with(entry));
            match (matches.next(), matches.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        } else {
            None
        };
        // As the driver does: the first entry that names no GPU ends the list.
        let Some(device) = found else { break };
        if seen.contains(device) {
            return Err(DeviceError(format!("CUDA_VISIBLE_DEVICES=`{list}` names {} twice", device.uuid)));
        }
        seen.push(device.clone());
    }
    Ok(seen)
}

/// `--gpus`: every visible GPU, or some of them by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuSelection {
    All,
    Indices(Vec<usize>),
}

impl FromStr for GpuSelection {
    type Err = DeviceError;

    /// `all`, or indices such as `0,2,3`.
    fn from_str(text: &str) -> Result<GpuSelection, DeviceError> {
        if text.trim() == "all" {
            return Ok(GpuSelection::All);
        }
        let mut indices = Vec::new();
        for part in text.split(',').map(str::trim) {
            let index: usize = part.parse().map_err(|_| {
                DeviceError(format!("`{text}` is not a GPU list: write `all`, or indices such as 0,2,3"))
            })?;
            if indices.contains(&index) {
                return Err(DeviceError(format!("`{text}` names GPU {index} twice")));
            }
            indices.push(index);
        }
        Ok(GpuSelection::Indices(indices))
    }
}

impl fmt::Display for GpuSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuSelection::All => f.write_str("all"),
            GpuSelection::Indices(indices) => {
                let shown: Vec<String> = indices.iter().map(ToString::to_string).collect();
                f.write_str(&shown.join(","))
            }
        }
    }
}

/// The selected GPUs of `visible`, all of one model: a run is measured on one testbed, so a host's
/// GPUs of different models are never mixed in one run.
pub fn select(visible: &[Device], selection: &GpuSelection) -> Result<Vec<Device>, DeviceError> {
    if visible.is_empty() {
        return Err(DeviceError(
            "--gpus: no GPU is visible (NVML lists none, or CUDA_VISIBLE_DEVICES hides them all)".to_owned(),
        ));
    }
    let chosen: Vec<(usize, &Device)> = match selection {
        GpuSelection::All => visible.iter().enumerate().collect(),
        GpuSelection::Indices(indices) => indices
            .iter()
            .map(|&i| {
                visible.get(i).map(|d| (i, d)).ok_or_else(|| {
                    DeviceError(format!(
                        "--gpus {selection}: there is no GPU {i}; this machine shows {} (0 to {})",
                        visible.len(),
                        visible.len() - 1
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let (first_index, first) = chosen[0];
    if let Some((index, other)) = chosen.iter().find(|(_, d)| d.name != first.name) {
        return Err(DeviceError(format!(
            "--gpus {selection}: GPU {first_index} is `{}` and GPU {index} `{}`; one run measures on one GPU \
             model (timings are never compared across models), so choose GPUs of one model, such as \
             --gpus {}",
            first.name,
            other.name,
            same_model(visible, &first.name)
        )));
    }
    Ok(chosen.into_iter().map(|(_, d)| d.clone()).collect())
}

/// The indices of the visible GPUs of one model, as a `--gpus` value.
fn same_model(visible: &[Device], name: &str) -> String {
    let indices: Vec<String> =
        visible.iter().enumerate().filter(|(_, d)| d.name == name).map(|(i, _)| i.to_string()).collect();
    indices.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Vec<Device> {
        [
            ("GPU-aaaa1111-0000", "NVIDIA H200"),
            ("GPU-bbbb2222-0000", "NVIDIA H200"),
            ("GPU-aaaa3333-0000", "NVIDIA H200"),
            ("GPU-cccc4444-0000", "NVIDIA A100"),
        ]
        .iter()
        .map(|(uuid, name)| Device { uuid: (*uuid).into(), name: (*name).into() })
        .collect()
    }

    fn uuids(devices: &[Device]) -> Vec<&str> {
        devices.iter().map(|d| d.uuid.as_str()).collect()
    }

    #[test]
    fn cuda_visible_devices_is_read_as_the_driver_reads_it() {
        let all = host();
        assert_eq!(visible(&all, None).unwrap(), all);
        assert_eq!(uuids(&visible(&all, Some("2,0")).unwrap()), ["GPU-aaaa3333-0000", "GPU-aaaa1111-0000"]);
        assert_eq!(
            uuids(&visible(&all, Some("GPU-bbbb, 3")).unwrap()),
            ["GPU-bbbb2222-0000", "GPU-cccc4444-0000"]
        );
        // An entry that names no GPU (out of range, an ambiguous prefix, garbage) ends the list.
        assert_eq!(uuids(&visible(&all, Some("1,7,0")).unwrap()), ["GPU-bbbb2222-0000"]);
        assert_eq!(uuids(&visible(&all, Some("0,GPU-aaaa,1")).unwrap()), ["GPU-aaaa1111-0000"]);
        assert!(visible(&all, Some("")).unwrap().is_empty());
        assert!(visible(&all, Some("-1")).unwrap().is_empty());
        assert!(visible(&all, Some("1,1")).unwrap_err().0.contains("twice"));
        assert!(visible(&all, Some("MIG-1234")).unwrap_err().0.contains("MIG"));
    }

    #[test]
    fn gpus_are_selected_by_index_among_the_visible_ones() {
        assert_eq!("all".parse::<GpuSelection>(), Ok(GpuSelection::All));
        assert_eq!("0, 2".parse::<GpuSelection>(), Ok(GpuSelection::Indices(vec![0, 2])));
        assert_eq!(GpuSelection::Indices(vec![0, 2]).to_string(), "0,2");
        for bad in ["", "x", "0,,1", "-1", "1;2"] {
            assert!(bad.parse::<GpuSelection>().unwrap_err().0.contains("not a GPU list"), "{bad}");
        }
        assert!("1,1".parse::<GpuSelection>().unwrap_err().0.contains("twice"));

        let seen = visible(&host(), Some("2,1,3")).unwrap();
        let picked = select(&seen, &GpuSelection::Indices(vec![1, 0])).unwrap();
        assert_eq!(uuids(&picked), ["GPU-bbbb2222-0000", "GPU-aaaa3333-0000"]);
        let err = select(&seen, &GpuSelection::Indices(vec![3])).unwrap_err().0;
        assert!(err.contains("no GPU 3") && err.contains("shows 3 (0 to 2)"), "{err}");
        assert!(select(&[], &GpuSelection::All).unwrap_err().0.contains("no GPU is visible"));
    }

    #[test]
    fn gpus_of_different_models_are_refused() {
        let err = select(&host(), &GpuSelection::All).unwrap_err().0;
        assert!(
            err.contains("GPU 0 is `NVIDIA H200` and GPU 3 `NVIDIA A100`") && err.contains("--gpus 0,1,2"),
            "{err}"
        );
        assert_eq!(select(&host(), &GpuSelection::Indices(vec![3])).unwrap().len(), 1);
    }
}
