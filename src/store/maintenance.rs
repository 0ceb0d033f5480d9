//! Maintenance of a [`DiskStore`]: a full check of every artifact ([`DiskStore::verify`]) and
//! removal of what can never be used ([`DiskStore::gc`]).

use super::{
    ArtifactError, ArtifactStatus, ArtifactStore, DiskStore, ListedArtifact, Manifest, StoreError,
    fs::{StoreLock, sync_dir},
    manifest::{TEMP_PREFIX, is_library_file_name},
};
use libloading::Library;
use std::{
    collections::{HashMap, HashSet},
    fs, io,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};
use tracing::{info, info_span};

/// What [`DiskStore::gc`] removes. The defaults suit a store used by one build at a time:
/// remove every artifact this build refuses, temporary files older than an hour, and
/// unreferenced libraries older than ten minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcOptions {
    /// Remove manifests refused because they are damaged or inconsistent (anything but another
    /// build's artifact). Default `true`.
    pub remove_damaged: bool,
    /// Remove manifests of other builds (other ABI version, compiler version or target). Turn
    /// off when several builds share the store. Default `true`.
    pub remove_other_builds: bool,
    /// Judge artifacts as [`DiskStore::verify`] does, mapping each library and looking up its
    /// symbols, rather than stopping at the library's checksum. Default `false`.
    pub deep: bool,
    /// Temporary files at least this old are removed; [`Duration::ZERO`] removes all of them.
    /// They are left by writers that died; a writer in progress holds the store lock, which
    /// garbage collection waits for, so the age only matters where that lock is not honoured.
    /// Default one hour.
    pub temp_max_age: Duration,
    /// Libraries no remaining manifest references are removed once at least this old. The
    /// grace period spares a library whose writer has renamed it into place but not yet its
    /// manifests, where the store lock is not honoured. Default ten minutes.
    pub library_grace: Duration,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            remove_damaged: true,
            remove_other_builds: true,
            deep: false,
            temp_max_age: Duration::from_secs(60 * 60),
            library_grace: Duration::from_secs(10 * 60),
        }
    }
}

/// What [`DiskStore::gc`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Manifests removed because they would be refused.
    pub removed_manifests: Vec<PathBuf>,
    /// Libraries removed because no manifest referenced them.
    pub removed_libraries: Vec<PathBuf>,
    /// Temporary files removed.
    pub removed_temp_files: Vec<PathBuf>,
    /// Total size of the removed files.
    pub bytes_freed: u64,
}

/// The result of [`DiskStore::verify`].
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Manifests examined.
    pub checked: usize,
    /// Manifests whose artifact would be loaded.
    pub valid: usize,
    /// Manifests whose artifact would be refused, and why.
    pub problems: Vec<Problem>,
    /// Library files no manifest references (left by overwritten artifacts or interrupted
    /// writers; [`DiskStore::gc`] removes them).
    pub unreferenced_libraries: Vec<PathBuf>,
    /// Temporary files (writes in progress, or left by writers that died).
    pub temp_files: Vec<PathBuf>,
}

impl VerifyReport {
    /// Whether every manifest is valid (unreferenced and temporary files are no problem).
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One artifact [`DiskStore::verify`] found that would be refused.
#[derive(Debug)]
pub struct Problem {
    /// The manifest file.
    pub path: PathBuf,
    /// Its contents, when they could be read.
    pub manifest: Option<Manifest>,
    /// Why the artifact would be refused.
    pub error: ArtifactError,
}

/// A file of the store that is not a manifest.
struct OtherFile {
    path: PathBuf,
    name: String,
    len: u64,
    /// How long ago it was last modified (zero when unknown or in the future).
    age: Duration,
}

impl DiskStore {
    /// Checks every manifest as [`ArtifactStore::load`] would, including mapping its library
    /// and finding its symbols, and reports what would be refused. Each library is read and
    /// mapped once however many manifests share it; nothing is changed.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let _span = info_span!("store_verify", dir = %self.dir().display()).entered();
        let artifacts = self.check_all(true)?;
        let referenced: HashSet<&str> =
            artifacts.iter().filter_map(|a| a.manifest.as_ref()).map(|m| m.library.as_str()).collect();
        let (libraries, temp_files) = self.other_files()?;
        let mut report = VerifyReport {
            checked: artifacts.len(),
            unreferenced_libraries: libraries
                .into_iter()
                .filter(|f| !referenced.contains(f.name.as_str()))
                .map(|f| f.path)
                .collect(),
            temp_files: temp_files.into_iter().map(|f| f.path).collect(),
            ..VerifyReport::default()
        };
        for artifact in artifacts {
            match artifact.status {
                ArtifactStatus::Valid => report.valid += 1,
                ArtifactStatus::Refused(error) => {
                    report.problems.push(Problem { path: artifact.path, manifest: artifact.manifest, error })
                }
            }
        }
        info!(checked = report.checked, valid = report.valid, problems = report.problems.len(), "verified");
        Ok(report)
    }

    /// Removes what can never be used: manifests that would be refused (as `options` says),
    /// stale temporary files, and libraries no remaining manifest references.
    ///
    /// Runs under the store's exclusive lock, so writes in progress finish first and wait for
    /// it; loads go on meanwhile (they only ever lose artifacts they would refuse).
    pub fn gc(&self, options: &GcOptions) -> Result<GcReport, StoreError> {
        let _span = info_span!("store_gc", dir = %self.dir().display()).entered();
        let _lock = StoreLock::exclusive(self.dir())?;
        let mut report = GcReport::default();
        let mut referenced = HashSet::new();
        for artifact in self.check_all(options.deep)? {
            let remove = match artifact.error() {
                None => false,
                Some(e) if e.is_other_build() => options.remove_other_builds,
                Some(_) => options.remove_damaged,
            };
            if remove {
                if let Some(len) = remove_file(&artifact.path)? {
                    report.bytes_freed += len;
                    report.removed_manifests.push(artifact.path);
                }
            } else if let Some(manifest) = artifact.manifest {
                referenced.insert(manifest.library);
            }
        }
        let (libraries, temp_files) = self.other_files()?;
        for file in temp_files {
            if file.age >= options.temp_max_age && remove_file(&file.path)?.is_some() {
                report.bytes_freed += file.len;
                report.removed_temp_files.push(file.path);
            }
        }
        for file in libraries {
            if !referenced.contains(&file.name)
                && file.age >= options.library_grace
                && remove_file(&file.path)?.is_some()
            {
                report.bytes_freed += file.len;
                report.removed_libraries.push(file.path);
            }
        }
        sync_dir(self.dir())?;
        info!(
            manifests = report.removed_manifests.len(),
            libraries = report.removed_libraries.len(),
            temp_files = report.removed_temp_files.len(),
            bytes = report.bytes_freed,
            "collected"
        );
        Ok(report)
    }

    /// Every manifest with its status: [`ArtifactStore::list`]'s checks, and with `deep` also
    /// those that need the library mapped (its ABI symbol and the entry symbol).
    fn check_all(&self, deep: bool) -> Result<Vec<ListedArtifact>, StoreError> {
        let mut artifacts = self.list()?;
        if !deep {
            return Ok(artifacts);
        }
        let mut opened: HashMap<String, Library> = HashMap::new();
        for artifact in &mut artifacts {
            let (ArtifactStatus::Valid, Some(manifest)) = (&artifact.status, &artifact.manifest) else {
                continue;
            };
            let path = self.dir().join(&manifest.library);
            if !opened.contains_key(&manifest.library) {
                match Self::open_library(&path, manifest) {
                    Ok((library, _)) => {
                        opened.insert(manifest.library.clone(), library);
                    }
                    Err(e) => {
                        artifact.status = ArtifactStatus::Refused(e);
                        continue;
                    }
                }
            }
            if let Err(e) = Self::entry(&path, &opened[&manifest.library], &manifest.symbol) {
                artifact.status = ArtifactStatus::Refused(e);
            }
        }
        Ok(artifacts)
    }

    /// The library files and the temporary files in the store.
    fn other_files(&self) -> Result<(Vec<OtherFile>, Vec<OtherFile>), StoreError> {
        let dir = self.dir();
        let now = SystemTime::now();
        let (mut libraries, mut temp_files) = (Vec::new(), Vec::new());
        for entry in fs::read_dir(dir).map_err(|e| StoreError::io("read directory", dir, e))? {
            let entry = entry.map_err(|e| StoreError::io("read directory", dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let list = if name.starts_with(TEMP_PREFIX) {
                &mut temp_files
            } else if is_library_file_name(&name) {
                &mut libraries
            } else {
                continue;
            };
            let path = entry.path();
            let metadata = match entry.metadata() {
                Ok(metadata) => metadata,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("read metadata of", path, e)),
            };
            let age = metadata.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
            list.push(OtherFile { path, name, len: metadata.len(), age });
        }
        libraries.sort_by(|a, b| a.path.cmp(&b.path));
        temp_files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((libraries, temp_files))
    }
}

/// Removes a file; returns its size, or `None` when it was already gone.
fn remove_file(path: &Path) -> Result<Option<u64>, StoreError> {
    let len = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("read metadata of", path, e)),
    };
    match fs::remove_file(path) {
        Ok(()) => Ok(Some(len)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}
