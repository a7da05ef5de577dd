//! FAT12, FAT16 and FAT32 with VFAT long names, read in place from an image
//! or a block device: enough to read an OpenStack config drive (`config-2`)
//! or a NoCloud seed (`cidata`) without mounting it.
//!
//! Facts come from Microsoft's "FAT32 File System Specification" (1.03);
//! where Linux (`fs/fat`, the driver cloud-init's `mount` would use) or
//! blkid behave differently, this reader follows them and says so.
//!
//! Every structure on disk is treated as hostile: offsets are bounds-checked
//! by [`ReadAt::read_exact_at`], cluster numbers are checked against the
//! volume, chains are walked with a visited set and a length bound,
//! directories are capped at the FAT maximum of 65536 entries, path depth is
//! capped, and a file's size is checked against the caller's limit and the
//! volume before anything is allocated for it.

use std::collections::HashSet;

use super::{DirEntry, Filesystem, FsError, ReadAt};

const FS_NAME: &str = "vfat";
const DIR_ENTRY_SIZE: usize = 32;
/// The FAT specification caps a directory at 65536 entries (Linux's
/// `FAT_MAX_DIR_SIZE`, 2 MiB); anything longer is damage or an attack.
const MAX_DIR_BYTES: u64 = 65536 * DIR_ENTRY_SIZE as u64;
/// Config drives and seeds are at most four levels deep; a deeper path is a
/// mistake or a way to make us read many directories.
const MAX_PATH_DEPTH: usize = 32;
/// A long name is at most 255 UCS-2 units, 13 per entry: 20 entries.
const MAX_LFN_ENTRIES: u8 = 20;
const LFN_UNITS_PER_ENTRY: usize = 13;

const ATTR_VOLUME: u8 = 0x08;
const ATTR_DIRECTORY: u8 = 0x10;
/// Read-only | hidden | system | volume: the mark of a long-name entry.
const ATTR_LONG_NAME: u8 = 0x0F;
/// The attribute bits that are defined (the top two are reserved).
const ATTR_DEFINED: u8 = 0x3F;

/// First name byte of a deleted entry.
const DELETED: u8 = 0xE5;
/// A real name starting with 0xE5 is stored with 0x05 instead.
const ESCAPED_E5: u8 = 0x05;
/// First name byte of the end-of-directory marker.
const END_OF_DIRECTORY: u8 = 0x00;
/// Set in a long-name entry's sequence byte on the last (first stored) part.
const LFN_LAST: u8 = 0x40;

/// Case flags in byte 12 of a short entry (Windows NT, honoured by Linux's
/// default `shortname=mixed`): show the base name or extension lower case.
const CASE_LOWER_BASE: u8 = 0x08;
const CASE_LOWER_EXT: u8 = 0x10;

/// Clusters a FAT12 or FAT16 can address (Microsoft's rule: fewer than 4085
/// clusters is FAT12, fewer than 65525 is FAT16).
const FAT12_MAX_CLUSTERS: u64 = 4084;
const FAT16_MAX_CLUSTERS: u64 = 65524;
/// FAT32 entries are 28 bits; 0x0FFFFFF7 and up are bad/end markers.
const FAT32_MAX_CLUSTERS: u64 = 0x0FFF_FFF5;

/// The boot sector's label when none was set.
const NO_NAME: &[u8; 11] = b"NO NAME    ";

/// Code page 437, bytes 0x80..=0xFF: Linux's default FAT codepage, used to
/// show short names and labels that are not ASCII.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ', 'Æ',
    'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', 'á', 'í', 'ó', 'ú', 'ñ', 'Ñ',
    'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕',
    '╣', '║', '╗', '╝', '╜', '╛', '┐', '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦',
    '╠', '═', '╬', '╧', '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐',
    '▀', 'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', '≡', '±',
    '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

/// Which FAT a volume uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatType {
    Fat12,
    Fat16,
    Fat32,
}

/// The two labels a FAT volume can carry, as blkid (util-linux 2.33 and
/// later) reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FatLabels {
    /// blkid's `LABEL`: the volume-label entry in the root directory.
    pub label: Option<String>,
    /// blkid's `LABEL_FATBOOT`: the boot sector's BS_VolLab, unless it is
    /// `NO NAME` or the boot sector has no extended signature (0x29).
    pub boot_label: Option<String>,
}

/// The label of a FAT volume for device probing (cloud-init matches
/// `LABEL=config-2`, `CONFIG-2`, `cidata`, `CIDATA`), or `None` when `dev`
/// is not FAT or has no label.
///
/// The root directory's label entry if there is one (what every blkid
/// reports as `LABEL`, and what `mkfs.vfat -n` and `mlabel` write), else the
/// boot sector's label (what blkid before util-linux 2.33 reported as
/// `LABEL`, and later ones as `LABEL_FATBOOT`, which cloud-init's NoCloud
/// also accepts). `NO NAME` means no label in either place. Trailing blanks
/// are trimmed; case is kept as stored (`mkfs.vfat -n cidata` from
/// dosfstools 4.2 stores `cidata`; `mlabel` stores upper case).
/// [`probe_labels`] gives the two labels separately.
pub fn probe_label(dev: &dyn ReadAt) -> Option<String> {
    let labels = probe_labels(dev)?;
    preferred_label(&labels)
}

/// Both labels of a FAT volume as blkid 2.33+ reports them, or `None` when
/// `dev` is not FAT. A damaged root directory counts as having no label
/// entry (blkid stops looking too). Bytes above 0x7F are shown as code page
/// 437, where blkid passes the raw bytes through.
pub fn probe_labels(dev: &dyn ReadAt) -> Option<FatLabels> {
    let geometry = Geometry::parse(dev).ok()?;
    let volume = Volume {
        dev,
        geo: &geometry,
    };
    Some(volume.labels())
}

fn preferred_label(labels: &FatLabels) -> Option<String> {
    labels
        .label
        .clone()
        .filter(|l| l.as_bytes() != trim_label_bytes(NO_NAME))
        .or_else(|| labels.boot_label.clone())
}

/// A FAT volume read in place.
pub struct Vfat<R: ReadAt> {
    dev: R,
    geo: Geometry,
    label: String,
}

impl<R: ReadAt> Vfat<R> {
    /// Reads and checks the boot sector. [`FsError::NotThisFs`] when `dev`
    /// does not look like FAT at all; [`FsError::Corrupt`] when it does but
    /// its numbers do not add up (or the image is shorter than they say).
    pub fn open(dev: R) -> Result<Self, FsError> {
        let geo = Geometry::parse(&dev)?;
        let volume = Volume {
            dev: &dev,
            geo: &geo,
        };
        let label = preferred_label(&volume.labels()).unwrap_or_default();
        Ok(Vfat { dev, geo, label })
    }

    /// FAT12, FAT16 or FAT32.
    pub fn fat_type(&self) -> FatType {
        self.geo.kind
    }

    /// Bytes per cluster.
    pub fn cluster_size(&self) -> u64 {
        self.geo.cluster_bytes
    }

    fn volume(&self) -> Volume<'_> {
        Volume {
            dev: &self.dev,
            geo: &self.geo,
        }
    }
}

impl<R: ReadAt> std::fmt::Debug for Vfat<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vfat")
            .field("label", &self.label)
            .field("fat_type", &self.geo.kind)
            .field("cluster_size", &self.geo.cluster_bytes)
            .field("clusters", &self.geo.cluster_count)
            .finish_non_exhaustive()
    }
}

impl<R: ReadAt> Filesystem for Vfat<R> {
    fn label(&self) -> &str {
        &self.label
    }

    fn fs_type(&self) -> &'static str {
        FS_NAME
    }

    fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let volume = self.volume();
        let (shown, target) = volume.resolve(path)?;
        let dir = match target {
            Target::Dir(dir) => dir,
            Target::File(_) => return Err(FsError::NotADirectory(shown)),
        };
        let mut entries = Vec::new();
        volume.scan_dir(dir, &shown, &mut |item| {
            if let DirItem::Node(node) = item {
                entries.push(DirEntry {
                    name: node.name,
                    is_dir: node.is_dir,
                    size: if node.is_dir { 0 } else { u64::from(node.size) },
                });
            }
            false
        })?;
        Ok(entries)
    }

    fn read_file(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, FsError> {
        let volume = self.volume();
        let (shown, target) = volume.resolve(path)?;
        match target {
            Target::Dir(_) => Err(FsError::IsADirectory(shown)),
            Target::File(node) => volume.read_node(&node, &shown, max_bytes),
        }
    }
}

/// Where the volume's pieces are, from the boot sector.
#[derive(Debug)]
struct Geometry {
    kind: FatType,
    cluster_bytes: u64,
    /// Byte offset of the first FAT (Linux reads only the first copy too).
    fat_offset: u64,
    /// FAT12/16: the fixed root directory.
    root_offset: u64,
    root_entries: u64,
    /// FAT32: the root directory's first cluster.
    root_cluster: u32,
    /// Byte offset of cluster 2.
    data_offset: u64,
    cluster_count: u64,
    /// Highest valid cluster number (clusters are numbered from 2).
    max_cluster: u32,
    boot_label: Option<String>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn corrupt(what: impl Into<String>) -> FsError {
    FsError::Corrupt(what.into())
}

impl Geometry {
    fn parse(dev: &dyn ReadAt) -> Result<Geometry, FsError> {
        let image_bytes = dev.size();
        if image_bytes < 512 {
            return Err(FsError::NotThisFs(FS_NAME));
        }
        let boot = dev.read_exact_at(0, 512)?;

        // blkid's test for "might be FAT": an x86 jump or the 0x55AA
        // signature. Neither means this is some other filesystem.
        let has_jump = boot[0] == 0xEB || boot[0] == 0xE9;
        let has_signature = boot[510] == 0x55 && boot[511] == 0xAA;
        let bytes_per_sector = u64::from(le16(&boot, 11));
        let sectors_per_cluster = u64::from(boot[13]);
        let reserved_sectors = u64::from(le16(&boot, 14));
        let fat_count = u64::from(boot[16]);
        let root_entries = u64::from(le16(&boot, 17));
        let total_sectors_16 = u64::from(le16(&boot, 19));
        let media = boot[21];
        let fat_sectors_16 = u64::from(le16(&boot, 22));
        let total_sectors_32 = u64::from(le32(&boot, 32));

        // The same sanity checks Linux and blkid make before calling
        // something FAT; failing them means "not FAT", not "broken FAT".
        let looks_like_fat = (has_jump || has_signature)
            && (512..=4096).contains(&bytes_per_sector)
            && bytes_per_sector.is_power_of_two()
            && sectors_per_cluster.is_power_of_two()
            && reserved_sectors > 0
            && fat_count > 0
            && (media == 0xF0 || media >= 0xF8);
        if !looks_like_fat {
            return Err(FsError::NotThisFs(FS_NAME));
        }

        let total_sectors = if total_sectors_16 != 0 {
            total_sectors_16
        } else {
            total_sectors_32
        };
        if total_sectors == 0 {
            return Err(corrupt("boot sector: total sector count is 0"));
        }
        let volume_bytes = total_sectors * bytes_per_sector;
        if volume_bytes > image_bytes {
            return Err(corrupt(format!(
                "boot sector: volume is {volume_bytes} bytes ({total_sectors} sectors) \
                 but the image has only {image_bytes} (truncated?)"
            )));
        }

        // Linux decides FAT32 by layout (a zero 16-bit FAT size), not by
        // cluster count: `mkfs.vfat -F 32` on a small image makes a FAT32
        // with fewer than 65525 clusters, and it mounts as FAT32.
        let is_fat32 = fat_sectors_16 == 0;
        let fat_sectors = if is_fat32 {
            u64::from(le32(&boot, 36))
        } else {
            fat_sectors_16
        };
        if fat_sectors == 0 {
            return Err(corrupt("boot sector: sectors per FAT is 0"));
        }
        let root_dir_sectors = if is_fat32 {
            if root_entries != 0 {
                return Err(corrupt(format!(
                    "boot sector: FAT32 layout but {root_entries} fixed root entries"
                )));
            }
            0
        } else {
            if root_entries == 0 {
                return Err(corrupt("boot sector: no room for root directory entries"));
            }
            (root_entries * DIR_ENTRY_SIZE as u64).div_ceil(bytes_per_sector)
        };

        let root_sector = reserved_sectors + fat_count * fat_sectors;
        let data_sector = root_sector + root_dir_sectors;
        if data_sector >= total_sectors {
            return Err(corrupt(format!(
                "boot sector: reserved sectors, FATs and root directory end at sector \
                 {data_sector}, past the volume's {total_sectors} sectors"
            )));
        }
        let cluster_count = (total_sectors - data_sector) / sectors_per_cluster;
        if cluster_count == 0 {
            return Err(corrupt("boot sector: no room for a single data cluster"));
        }

        let kind = if is_fat32 {
            if cluster_count > FAT32_MAX_CLUSTERS {
                return Err(corrupt(format!(
                    "boot sector: {cluster_count} clusters, more than FAT32 can address"
                )));
            }
            FatType::Fat32
        } else if cluster_count <= FAT12_MAX_CLUSTERS {
            FatType::Fat12
        } else if cluster_count <= FAT16_MAX_CLUSTERS {
            FatType::Fat16
        } else {
            return Err(corrupt(format!(
                "boot sector: {cluster_count} clusters with a 16-bit FAT size, \
                 more than FAT16 can address"
            )));
        };

        // Every cluster needs an entry in the FAT (plus the two reserved).
        let fat_bytes = fat_sectors * bytes_per_sector;
        let fat_capacity = match kind {
            FatType::Fat12 => fat_bytes * 2 / 3,
            FatType::Fat16 => fat_bytes / 2,
            FatType::Fat32 => fat_bytes / 4,
        };
        if fat_capacity < cluster_count + 2 {
            return Err(corrupt(format!(
                "boot sector: FAT of {fat_bytes} bytes holds {fat_capacity} entries, \
                 too few for {cluster_count} clusters"
            )));
        }
        // Bounded by FAT32_MAX_CLUSTERS above, so this fits.
        let max_cluster = u32::try_from(cluster_count + 1)
            .map_err(|_| corrupt("boot sector: cluster count out of range"))?;

        let root_cluster = if is_fat32 { le32(&boot, 44) } else { 0 };
        if is_fat32 && !(2..=max_cluster).contains(&root_cluster) {
            return Err(corrupt(format!(
                "boot sector: root directory cluster {root_cluster} is outside 2..={max_cluster}"
            )));
        }

        // The extended boot signature 0x29 says the serial and label
        // fields are present (blkid checks the same before LABEL_FATBOOT).
        let (signature_at, label_at) = if is_fat32 { (66, 71) } else { (38, 43) };
        let boot_label = if boot[signature_at] == 0x29 {
            let raw = &boot[label_at..label_at + 11];
            if raw == NO_NAME {
                None
            } else {
                decode_label(raw)
            }
        } else {
            None
        };

        Ok(Geometry {
            kind,
            cluster_bytes: sectors_per_cluster * bytes_per_sector,
            fat_offset: reserved_sectors * bytes_per_sector,
            root_offset: root_sector * bytes_per_sector,
            root_entries,
            root_cluster,
            data_offset: data_sector * bytes_per_sector,
            cluster_count,
            max_cluster,
            boot_label,
        })
    }

    fn root(&self) -> DirLoc {
        match self.kind {
            FatType::Fat32 => DirLoc::Chain(self.root_cluster),
            FatType::Fat12 | FatType::Fat16 => DirLoc::FixedRoot,
        }
    }

    fn cluster_offset(&self, cluster: u32) -> u64 {
        self.data_offset + u64::from(cluster - 2) * self.cluster_bytes
    }

    fn is_valid_cluster(&self, cluster: u32) -> bool {
        (2..=self.max_cluster).contains(&cluster)
    }
}

/// Trailing blanks (and NULs some tools pad with) are not part of a label.
fn trim_label_bytes(raw: &[u8]) -> &[u8] {
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    &raw[..end]
}

fn decode_label(raw: &[u8]) -> Option<String> {
    let trimmed = trim_label_bytes(raw);
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.iter().map(|&b| cp437(b)).collect())
    }
}

fn cp437(b: u8) -> char {
    if b < 0x80 {
        char::from(b)
    } else {
        CP437_HIGH[usize::from(b - 0x80)]
    }
}

/// A directory: the fixed root of FAT12/16, or a cluster chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirLoc {
    FixedRoot,
    Chain(u32),
}

/// What a cluster's FAT entry says comes next.
enum Link {
    Next(u32),
    End,
}

/// A file or directory found in a directory.
#[derive(Clone, Debug)]
struct Node {
    /// The long name when a valid one precedes the entry, else the 8.3 name.
    name: String,
    /// The 8.3 name (lookups match it too, as Linux's do).
    short_name: String,
    is_dir: bool,
    first_cluster: u32,
    size: u32,
}

enum DirItem {
    /// The volume-label entry (root directory only, normally).
    Label([u8; 11]),
    Node(Node),
}

enum Target {
    Dir(DirLoc),
    File(Node),
}

/// The device and its geometry, borrowed together.
struct Volume<'a> {
    dev: &'a dyn ReadAt,
    geo: &'a Geometry,
}

impl Volume<'_> {
    /// The FAT entry of `cluster` (already known to be valid).
    fn fat_entry(&self, cluster: u32) -> Result<u32, FsError> {
        let geo = self.geo;
        let index = u64::from(cluster);
        Ok(match geo.kind {
            FatType::Fat12 => {
                // 12-bit entries: two share three bytes.
                let b = self.dev.read_exact_at(geo.fat_offset + index * 3 / 2, 2)?;
                let pair = u32::from(le16(&b, 0));
                if cluster & 1 == 1 {
                    pair >> 4
                } else {
                    pair & 0x0FFF
                }
            }
            FatType::Fat16 => {
                let b = self.dev.read_exact_at(geo.fat_offset + index * 2, 2)?;
                u32::from(le16(&b, 0))
            }
            FatType::Fat32 => {
                // The top four bits are reserved.
                let b = self.dev.read_exact_at(geo.fat_offset + index * 4, 4)?;
                le32(&b, 0) & 0x0FFF_FFFF
            }
        })
    }

    fn next_cluster(&self, cluster: u32) -> Result<Link, FsError> {
        let value = self.fat_entry(cluster)?;
        let (bad, end_min) = match self.geo.kind {
            FatType::Fat12 => (0xFF7, 0xFF8),
            FatType::Fat16 => (0xFFF7, 0xFFF8),
            FatType::Fat32 => (0x0FFF_FFF7, 0x0FFF_FFF8),
        };
        if value >= end_min {
            Ok(Link::End)
        } else if value == bad {
            Err(corrupt(format!(
                "FAT entry of cluster {cluster} links to a cluster marked bad"
            )))
        } else if value == 0 {
            Err(corrupt(format!(
                "FAT entry of cluster {cluster} is free, in the middle of a chain"
            )))
        } else if self.geo.is_valid_cluster(value) {
            Ok(Link::Next(value))
        } else {
            Err(corrupt(format!(
                "FAT entry of cluster {cluster} points to cluster {value}, outside 2..={}",
                self.geo.max_cluster
            )))
        }
    }

    /// Feeds the directory's entries to `visit` until it returns true, the
    /// end marker, or the end of the directory. `shown` names the
    /// directory in errors.
    fn scan_dir(
        &self,
        dir: DirLoc,
        shown: &str,
        visit: &mut dyn FnMut(DirItem) -> bool,
    ) -> Result<(), FsError> {
        let mut parser = DirParser::new(self.geo.kind);
        match dir {
            DirLoc::FixedRoot => {
                let bytes = self.dev.read_exact_at(
                    self.geo.root_offset,
                    (self.geo.root_entries * DIR_ENTRY_SIZE as u64) as usize,
                )?;
                parser.feed_all(&bytes, visit);
                Ok(())
            }
            DirLoc::Chain(first) => {
                if !self.geo.is_valid_cluster(first) {
                    return Err(corrupt(format!(
                        "directory {shown} starts at cluster {first}, outside 2..={}",
                        self.geo.max_cluster
                    )));
                }
                let mut visited = HashSet::new();
                let mut cluster = first;
                let mut bytes_read = 0u64;
                loop {
                    if !visited.insert(cluster) {
                        return Err(corrupt(format!(
                            "directory {shown}: cluster chain loops back to cluster {cluster}"
                        )));
                    }
                    if bytes_read >= MAX_DIR_BYTES {
                        return Err(corrupt(format!(
                            "directory {shown}: cluster chain goes past the FAT limit of \
                             65536 entries (at cluster {cluster})"
                        )));
                    }
                    let bytes = self.dev.read_exact_at(
                        self.geo.cluster_offset(cluster),
                        self.geo.cluster_bytes as usize,
                    )?;
                    bytes_read += self.geo.cluster_bytes;
                    if parser.feed_all(&bytes, visit) {
                        return Ok(());
                    }
                    match self
                        .next_cluster(cluster)
                        .map_err(|e| in_context(e, "directory", shown))?
                    {
                        Link::End => return Ok(()),
                        Link::Next(next) => cluster = next,
                    }
                }
            }
        }
    }

    /// Both labels; a root directory too damaged to scan counts as having
    /// no label entry, so the volume still opens and says what is wrong
    /// when it is read.
    fn labels(&self) -> FatLabels {
        FatLabels {
            label: self.root_label().ok().flatten(),
            boot_label: self.geo.boot_label.clone(),
        }
    }

    /// The root directory's volume-label entry, as blkid finds it.
    fn root_label(&self) -> Result<Option<String>, FsError> {
        let mut found = None;
        self.scan_dir(self.geo.root(), "/", &mut |item| match item {
            DirItem::Label(raw) => {
                found = Some(raw);
                true
            }
            DirItem::Node(_) => false,
        })?;
        Ok(found.and_then(|raw| decode_label(&raw)))
    }

    /// The entry named `name` in `dir` (case-insensitively, long or short
    /// name, trailing dots ignored as Linux's vfat does).
    fn find(&self, dir: DirLoc, shown: &str, name: &str) -> Result<Option<Node>, FsError> {
        let wanted = name.trim_end_matches('.');
        if wanted.is_empty() {
            return Ok(None);
        }
        let mut found = None;
        self.scan_dir(dir, shown, &mut |item| {
            if let DirItem::Node(node) = item {
                if same_name(wanted, &node.name) || same_name(wanted, &node.short_name) {
                    found = Some(node);
                    return true;
                }
            }
            false
        })?;
        Ok(found)
    }

    fn dir_of(&self, node: &Node, shown: &str) -> Result<DirLoc, FsError> {
        if !self.geo.is_valid_cluster(node.first_cluster) {
            return Err(corrupt(format!(
                "directory {shown} starts at cluster {}, outside 2..={}",
                node.first_cluster, self.geo.max_cluster
            )));
        }
        Ok(DirLoc::Chain(node.first_cluster))
    }

    /// Walks `path` from the root; returns the path as shown in errors
    /// (normalised, from `/`) and what it names.
    fn resolve(&self, path: &str) -> Result<(String, Target), FsError> {
        let components: Vec<&str> = path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if components.len() > MAX_PATH_DEPTH {
            return Err(FsError::TooLarge(format!(
                "{path}: more than {MAX_PATH_DEPTH} path components"
            )));
        }
        // The directories walked through, so `..` can step back and a
        // directory that contains one of its ancestors is caught.
        let mut stack: Vec<(DirLoc, String)> = vec![(self.geo.root(), "/".to_string())];
        let mut file: Option<(Node, String)> = None;
        for component in components {
            if let Some((_, shown)) = &file {
                return Err(FsError::NotADirectory(shown.clone()));
            }
            if component == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let (dir, dir_shown) = stack
                .last()
                .cloned()
                .unwrap_or((self.geo.root(), "/".into()));
            let shown = if dir_shown == "/" {
                format!("/{component}")
            } else {
                format!("{dir_shown}/{component}")
            };
            let node = self
                .find(dir, &dir_shown, component)?
                .ok_or_else(|| FsError::NotFound(shown.clone()))?;
            if node.is_dir {
                let loc = self.dir_of(&node, &shown)?;
                if let Some((_, ancestor)) = stack.iter().find(|(l, _)| *l == loc) {
                    return Err(corrupt(format!(
                        "directory {shown} (cluster {}) is {ancestor} again: a directory loop",
                        node.first_cluster
                    )));
                }
                stack.push((loc, shown));
            } else {
                file = Some((node, shown));
            }
        }
        Ok(match file {
            Some((node, shown)) => (shown, Target::File(node)),
            None => {
                let (dir, shown) = stack.pop().unwrap_or((self.geo.root(), "/".into()));
                (shown, Target::Dir(dir))
            }
        })
    }

    /// The file's bytes: its size checked against `max_bytes` and the
    /// volume, and its whole chain checked, before anything is allocated.
    fn read_node(&self, node: &Node, shown: &str, max_bytes: u64) -> Result<Vec<u8>, FsError> {
        let size = u64::from(node.size);
        if size > max_bytes {
            return Err(FsError::file_too_large(shown, size, max_bytes));
        }
        if size == 0 {
            // An empty file normally has no cluster; if it has one, Linux
            // reads nothing from it either.
            return Ok(Vec::new());
        }
        let geo = self.geo;
        let needed = size.div_ceil(geo.cluster_bytes);
        if needed > geo.cluster_count {
            return Err(corrupt(format!(
                "{shown}: size {size} needs {needed} clusters, the volume has {}",
                geo.cluster_count
            )));
        }
        if !geo.is_valid_cluster(node.first_cluster) {
            return Err(corrupt(format!(
                "{shown}: first cluster {} is outside 2..={}",
                node.first_cluster, geo.max_cluster
            )));
        }

        // Runs of consecutive clusters, so an unfragmented file is one read.
        let mut runs: Vec<(u32, u64)> = Vec::new();
        let mut visited = HashSet::new();
        let mut cluster = node.first_cluster;
        for walked in 1..=needed {
            if !visited.insert(cluster) {
                return Err(corrupt(format!(
                    "{shown}: cluster chain loops back to cluster {cluster}"
                )));
            }
            match runs.last_mut() {
                Some((start, len)) if u64::from(*start) + *len == u64::from(cluster) => *len += 1,
                _ => runs.push((cluster, 1)),
            }
            let link = self
                .next_cluster(cluster)
                .map_err(|e| in_context(e, "file", shown))?;
            match (link, walked == needed) {
                (Link::Next(next), false) => cluster = next,
                (Link::End, true) => {}
                (Link::End, false) => {
                    return Err(corrupt(format!(
                        "{shown}: cluster chain ends at cluster {cluster} after {walked} \
                         clusters, but its size {size} needs {needed}"
                    )));
                }
                (Link::Next(next), true) => {
                    return Err(corrupt(format!(
                        "{shown}: cluster chain is longer than its size {size} allows \
                         (cluster {cluster} links on to {next})"
                    )));
                }
            }
        }

        let mut data = vec![0u8; size as usize];
        let mut filled = 0usize;
        for (start, len) in runs {
            let want = (len * geo.cluster_bytes).min(size - filled as u64) as usize;
            read_into(
                self.dev,
                geo.cluster_offset(start),
                &mut data[filled..filled + want],
            )?;
            filled += want;
        }
        Ok(data)
    }
}

/// Prefixes a corruption message with what was being read.
fn in_context(err: FsError, kind: &str, shown: &str) -> FsError {
    match err {
        FsError::Corrupt(what) => FsError::Corrupt(format!("{kind} {shown}: {what}")),
        other => other,
    }
}

/// Fills `buf` from `offset`, with [`ReadAt::read_exact_at`]'s errors but
/// without a second buffer.
fn read_into(dev: &dyn ReadAt, offset: u64, buf: &mut [u8]) -> Result<(), FsError> {
    let len = buf.len();
    if offset
        .checked_add(len as u64)
        .is_none_or(|end| end > dev.size())
    {
        return Err(corrupt(format!(
            "read of {len} bytes at offset {offset} is past the end of the image ({} bytes)",
            dev.size()
        )));
    }
    let mut done = 0;
    while done < len {
        let n = dev.read_at(offset + done as u64, &mut buf[done..])?;
        if n == 0 {
            return Err(corrupt(format!(
                "image ends at offset {} (wanted {len} bytes at {offset})",
                offset + done as u64
            )));
        }
        done += n;
    }
    Ok(())
}

/// Case-insensitive, as vfat mounts are by default.
fn same_name(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// A long name being collected: its entries come last part first, each
/// numbered, all carrying the checksum of the short name they belong to.
struct LongName {
    checksum: u8,
    /// The sequence number the next entry must have; 0 once complete.
    expected: u8,
    units: Vec<u16>,
}

/// Turns 32-byte entries into [`DirItem`]s, pairing long-name entries with
/// the short entry they precede. Orphaned, out-of-order or mismatched
/// long-name entries are dropped and the short name used, as Linux does.
struct DirParser {
    kind: FatType,
    long_name: Option<LongName>,
    ended: bool,
}

impl DirParser {
    fn new(kind: FatType) -> DirParser {
        DirParser {
            kind,
            long_name: None,
            ended: false,
        }
    }

    /// Feeds a run of entries; true once `visit` asked to stop or the end
    /// marker was seen (the rest of the directory is unused).
    fn feed_all(&mut self, bytes: &[u8], visit: &mut dyn FnMut(DirItem) -> bool) -> bool {
        for raw in bytes.chunks_exact(DIR_ENTRY_SIZE) {
            if self.ended {
                return true;
            }
            if let Some(item) = self.feed(raw) {
                if visit(item) {
                    return true;
                }
            }
        }
        self.ended
    }

    fn feed(&mut self, raw: &[u8]) -> Option<DirItem> {
        let first = raw[0];
        let attr = raw[11];
        if first == END_OF_DIRECTORY {
            self.ended = true;
            return None;
        }
        if first == DELETED {
            self.long_name = None;
            return None;
        }
        if attr == ATTR_LONG_NAME {
            self.feed_long_name_part(raw);
            return None;
        }
        let long_name = self.long_name.take();
        let name11: [u8; 11] = raw[..11].try_into().ok()?;

        if attr & ATTR_VOLUME != 0 {
            // A label, or junk with the volume bit that Linux hides; blkid
            // takes only a clean label entry without clusters.
            let clusterless = le16(raw, 20) == 0 && le16(raw, 26) == 0;
            let is_label = attr & ATTR_DEFINED != ATTR_LONG_NAME
                && attr & (ATTR_VOLUME | ATTR_DIRECTORY) == ATTR_VOLUME
                && clusterless;
            if !is_label {
                return None;
            }
            let mut label = name11;
            if label[0] == ESCAPED_E5 {
                label[0] = DELETED;
            }
            return Some(DirItem::Label(label));
        }
        if &name11 == b".          " || &name11 == b"..         " {
            return None;
        }

        let short_name = short_name(&name11, raw[12]);
        let long = long_name.and_then(|l| l.finish(short_name_checksum(&name11)));
        let name = match long.filter(|n| is_usable_name(n)) {
            Some(long) => long,
            None if is_usable_name(&short_name) => short_name.clone(),
            None => return None,
        };
        let high = if self.kind == FatType::Fat32 {
            u32::from(le16(raw, 20)) << 16
        } else {
            0
        };
        Some(DirItem::Node(Node {
            name,
            short_name,
            is_dir: attr & ATTR_DIRECTORY != 0,
            first_cluster: high | u32::from(le16(raw, 26)),
            size: le32(raw, 28),
        }))
    }

    fn feed_long_name_part(&mut self, raw: &[u8]) {
        let order = raw[0];
        let checksum = raw[13];
        let sequence = order & !LFN_LAST;
        if order & LFN_LAST != 0 {
            // The last part comes first and starts a new name, dropping
            // any unfinished one.
            self.long_name = if (1..=MAX_LFN_ENTRIES).contains(&sequence) {
                Some(LongName {
                    checksum,
                    expected: sequence,
                    units: vec![0xFFFF; usize::from(sequence) * LFN_UNITS_PER_ENTRY],
                })
            } else {
                None
            };
        }
        let Some(long) = self.long_name.as_mut() else {
            return;
        };
        if sequence == 0 || sequence != long.expected || checksum != long.checksum {
            self.long_name = None;
            return;
        }
        let at = usize::from(sequence - 1) * LFN_UNITS_PER_ENTRY;
        let parts = (1..11)
            .step_by(2)
            .chain((14..26).step_by(2))
            .chain((28..32).step_by(2));
        for (slot, offset) in long.units[at..at + LFN_UNITS_PER_ENTRY]
            .iter_mut()
            .zip(parts)
        {
            *slot = le16(raw, offset);
        }
        long.expected -= 1;
    }
}

impl LongName {
    /// The name, if every part arrived and it belongs to this short entry.
    fn finish(self, short_checksum: u8) -> Option<String> {
        if self.expected != 0 || self.checksum != short_checksum {
            return None;
        }
        let end = self
            .units
            .iter()
            .position(|&u| u == 0)
            .unwrap_or(self.units.len());
        let mut units = &self.units[..end];
        // Padding without the NUL before it: not part of the name.
        while let Some((&0xFFFF, rest)) = units.split_last() {
            units = rest;
        }
        if units.is_empty() {
            return None;
        }
        Some(
            char::decode_utf16(units.iter().copied())
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
        )
    }
}

/// The checksum a long name's entries carry of the short name they belong
/// to (over the 11 bytes as stored).
fn short_name_checksum(name11: &[u8; 11]) -> u8 {
    name11
        .iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// `BASE.EXT` with blanks trimmed, 0x05 restored to 0xE5, and the NT case
/// flags applied.
fn short_name(name11: &[u8; 11], case_flags: u8) -> String {
    let mut base = name11[..8].to_vec();
    if base[0] == ESCAPED_E5 {
        base[0] = DELETED;
    }
    let base = trim_blanks(&base);
    let ext = trim_blanks(&name11[8..]);
    let show = |bytes: &[u8], lower: bool| -> String {
        bytes
            .iter()
            .map(|&b| {
                let c = cp437(b);
                if lower {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    };
    let mut name = show(base, case_flags & CASE_LOWER_BASE != 0);
    if !ext.is_empty() {
        name.push('.');
        name.push_str(&show(ext, case_flags & CASE_LOWER_EXT != 0));
    }
    name
}

fn trim_blanks(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    &bytes[..end]
}

/// A name a caller can join onto a path safely: not empty, not `.`/`..`,
/// no `/` or NUL (a hostile image could store any of these).
fn is_usable_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny FAT12 volume built by hand, for structures real tools never
    /// write: 512-byte sectors and clusters, 1 reserved sector, 2 FATs of 1
    /// sector, 16 root entries (1 sector), 64 sectors: data starts at
    /// sector 4, clusters 2..=61.
    struct Crafted {
        img: Vec<u8>,
    }

    const SECTOR: usize = 512;
    const ROOT: usize = 3 * SECTOR;
    const DATA: usize = 4 * SECTOR;

    impl Crafted {
        fn new() -> Crafted {
            let mut img = vec![0u8; 64 * SECTOR];
            img[0..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
            img[3..11].copy_from_slice(b"TESTFAT ");
            img[11..13].copy_from_slice(&512u16.to_le_bytes());
            img[13] = 1;
            img[14..16].copy_from_slice(&1u16.to_le_bytes());
            img[16] = 2;
            img[17..19].copy_from_slice(&16u16.to_le_bytes());
            img[19..21].copy_from_slice(&64u16.to_le_bytes());
            img[21] = 0xF8;
            img[22..24].copy_from_slice(&1u16.to_le_bytes());
            img[38] = 0x29;
            img[43..54].copy_from_slice(b"BOOTLABEL  ");
            img[54..62].copy_from_slice(b"FAT12   ");
            img[510] = 0x55;
            img[511] = 0xAA;
            let mut c = Crafted { img };
            c.set_fat(0, 0xFF8);
            c.set_fat(1, 0xFFF);
            c
        }

        fn set_fat(&mut self, cluster: u32, value: u32) {
            for fat in 0..2 {
                let at = SECTOR + fat * SECTOR + cluster as usize * 3 / 2;
                let mut pair = u16::from_le_bytes([self.img[at], self.img[at + 1]]);
                if cluster & 1 == 1 {
                    pair = (pair & 0x000F) | ((value as u16) << 4);
                } else {
                    pair = (pair & 0xF000) | (value as u16 & 0x0FFF);
                }
                self.img[at..at + 2].copy_from_slice(&pair.to_le_bytes());
            }
        }

        fn chain(&mut self, clusters: &[u32]) {
            for pair in clusters.windows(2) {
                self.set_fat(pair[0], pair[1]);
            }
            self.set_fat(*clusters.last().unwrap(), 0xFFF);
        }

        fn cluster_at(cluster: u32) -> usize {
            DATA + (cluster as usize - 2) * SECTOR
        }

        /// Writes a short entry at slot `index` of the directory at `dir`.
        fn short(
            &mut self,
            dir: usize,
            index: usize,
            name11: &[u8; 11],
            attr: u8,
            cluster: u32,
            size: u32,
        ) {
            let at = dir + index * 32;
            let e = &mut self.img[at..at + 32];
            e.fill(0);
            e[..11].copy_from_slice(name11);
            e[11] = attr;
            e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
            e[28..32].copy_from_slice(&size.to_le_bytes());
        }

        /// Writes long-name entries for `name` at slots `index..`, for the
        /// short name `name11`; returns the next free slot.
        fn long(&mut self, dir: usize, index: usize, name: &str, name11: &[u8; 11]) -> usize {
            let mut units: Vec<u16> = name.encode_utf16().collect();
            let parts = units.len().div_ceil(13);
            if units.len() < parts * 13 {
                units.push(0);
            }
            units.resize(parts * 13, 0xFFFF);
            let sum = short_name_checksum(name11);
            for (i, seq) in (1..=parts).rev().enumerate() {
                let at = dir + (index + i) * 32;
                let e = &mut self.img[at..at + 32];
                e.fill(0);
                e[0] = seq as u8 | if seq == parts { LFN_LAST } else { 0 };
                e[11] = ATTR_LONG_NAME;
                e[13] = sum;
                let chunk = &units[(seq - 1) * 13..seq * 13];
                let offsets = (1..11)
                    .step_by(2)
                    .chain((14..26).step_by(2))
                    .chain((28..32).step_by(2));
                for (u, off) in chunk.iter().zip(offsets) {
                    e[off..off + 2].copy_from_slice(&u.to_le_bytes());
                }
            }
            index + parts
        }

        fn write(&mut self, cluster: u32, bytes: &[u8]) {
            let at = Self::cluster_at(cluster);
            self.img[at..at + bytes.len()].copy_from_slice(bytes);
        }

        fn open(&self) -> Result<Vfat<Vec<u8>>, FsError> {
            Vfat::open(self.img.clone())
        }
    }

    fn names(fs: &Vfat<Vec<u8>>, path: &str) -> Vec<String> {
        fs.list_dir(path)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn reads_a_crafted_volume() {
        let mut c = Crafted::new();
        c.short(ROOT, 0, b"SEED       ", ATTR_VOLUME, 0, 0);
        let next = c.long(ROOT, 1, "meta-data", b"META-D~1   ");
        c.short(ROOT, next, b"META-D~1   ", 0x20, 2, 5);
        c.chain(&[2]);
        c.write(2, b"hello");
        let fs = c.open().unwrap();
        assert_eq!(fs.fat_type(), FatType::Fat12);
        assert_eq!(fs.label(), "SEED");
        assert_eq!(fs.fs_type(), "vfat");
        assert_eq!(names(&fs, "/"), ["meta-data"]);
        assert_eq!(fs.read_file("/meta-data", 100).unwrap(), b"hello");
        assert_eq!(fs.read_file("META-DATA", 100).unwrap(), b"hello");
        assert_eq!(fs.read_file("/meta-d~1", 100).unwrap(), b"hello");
        assert_eq!(fs.read_file("./meta-data.", 100).unwrap(), b"hello");
        assert!(matches!(
            fs.read_file("/meta-data", 4),
            Err(FsError::TooLarge(_))
        ));
        assert!(matches!(
            fs.read_file("/user-data", 4),
            Err(FsError::NotFound(p)) if p == "/user-data"
        ));
        assert!(matches!(
            fs.list_dir("/meta-data"),
            Err(FsError::NotADirectory(_))
        ));
        assert!(matches!(
            fs.read_file("/meta-data/x", 9),
            Err(FsError::NotADirectory(p)) if p == "/meta-data"
        ));
        assert!(matches!(
            fs.read_file("/", 9),
            Err(FsError::IsADirectory(_))
        ));
    }

    #[test]
    fn labels_follow_blkid() {
        // Root label entry present: it wins over the boot sector's.
        let mut c = Crafted::new();
        c.short(ROOT, 0, b"cidata     ", ATTR_VOLUME, 0, 0);
        let labels = probe_labels(&c.img).unwrap();
        assert_eq!(labels.label.as_deref(), Some("cidata"));
        assert_eq!(labels.boot_label.as_deref(), Some("BOOTLABEL"));
        assert_eq!(probe_label(&c.img).as_deref(), Some("cidata"));

        // No root label: the boot sector's is the fallback.
        let mut c = Crafted::new();
        assert_eq!(probe_labels(&c.img).unwrap().label, None);
        assert_eq!(probe_label(&c.img).as_deref(), Some("BOOTLABEL"));

        // A deleted label entry is no label; "NO NAME" in the boot sector
        // is no label either.
        c.short(ROOT, 0, b"\xE5IDATA     ", ATTR_VOLUME, 0, 0);
        c.img[43..54].copy_from_slice(NO_NAME);
        assert_eq!(probe_label(&c.img), None);
        assert_eq!(c.open().unwrap().label(), "");

        // 0x05 in a label stands for 0xE5 (σ in code page 437).
        c.short(ROOT, 0, b"\x05ABEL      ", ATTR_VOLUME, 0, 0);
        assert_eq!(probe_label(&c.img).as_deref(), Some("σABEL"));

        // Not FAT at all.
        assert_eq!(probe_label(&vec![0u8; 4096]), None);
    }

    #[test]
    fn short_names_flags_and_escapes() {
        let mut c = Crafted::new();
        c.short(ROOT, 0, b"README  TXT", 0x20, 0, 0);
        c.img[ROOT + 12] = CASE_LOWER_BASE;
        c.short(ROOT, 1, b"LATEST     ", ATTR_DIRECTORY, 3, 0);
        c.img[ROOT + 32 + 12] = CASE_LOWER_BASE | CASE_LOWER_EXT;
        c.short(ROOT, 2, b"\x05BC     DAT", 0x20, 0, 0);
        c.short(ROOT, 3, b"\xE5GONE      ", 0x20, 0, 0);
        c.short(ROOT, 4, b"NOEXT      ", 0x20, 0, 0);
        c.chain(&[3]);
        let fs = c.open().unwrap();
        let listing = fs.list_dir("/").unwrap();
        let got: Vec<(&str, bool)> = listing.iter().map(|e| (&*e.name, e.is_dir)).collect();
        assert_eq!(
            got,
            [
                ("readme.TXT", false),
                ("latest", true),
                ("σBC.DAT", false),
                ("NOEXT", false)
            ]
        );
        assert_eq!(fs.list_dir("/Latest").unwrap(), []);
        assert_eq!(fs.read_file("/noext", 1).unwrap(), b"");
    }

    #[test]
    fn end_marker_stops_the_listing() {
        let mut c = Crafted::new();
        c.short(ROOT, 0, b"A          ", 0x20, 0, 0);
        c.short(ROOT, 2, b"B          ", 0x20, 0, 0);
        let fs = c.open().unwrap();
        assert_eq!(names(&fs, "/"), ["A"]);
    }

    #[test]
    fn bad_long_names_fall_back_to_the_short_name() {
        let mut c = Crafted::new();
        // Checksum of another short name.
        let next = c.long(ROOT, 0, "network-config", b"OTHER      ");
        c.short(ROOT, next, b"NETWOR~1   ", 0x20, 0, 0);
        // A valid run with its middle entry deleted.
        let start = next + 1;
        let next = c.long(ROOT, start, "a-rather-long-file-name", b"AREALL~1   ");
        c.img[ROOT + (start + 1) * 32] = DELETED;
        c.short(ROOT, next, b"AREALL~1   ", 0x20, 0, 0);
        // A long name of "..", which a caller must never be handed.
        let start = next + 1;
        let next = c.long(ROOT, start, "..", b"DOTDOT     ");
        c.short(ROOT, next, b"DOTDOT     ", 0x20, 0, 0);
        // An orphaned middle part (no first part before it).
        let start = next + 1;
        let next = c.long(ROOT, start, "orphaned-name-part", b"ORPHAN     ");
        c.img[ROOT + start * 32] = DELETED;
        c.short(ROOT, next, b"ORPHAN     ", 0x20, 0, 0);
        let fs = c.open().unwrap();
        assert_eq!(
            names(&fs, "/"),
            ["NETWOR~1", "AREALL~1", "DOTDOT", "ORPHAN"]
        );
    }

    #[test]
    fn long_names_span_entries_and_unicode() {
        let mut c = Crafted::new();
        let name = "vendor_data2.json-with-a-much-longer-tail-über";
        let next = c.long(ROOT, 0, name, b"VENDOR~1JSO");
        c.short(ROOT, next, b"VENDOR~1JSO", 0x20, 0, 0);
        let fs = c.open().unwrap();
        assert_eq!(names(&fs, "/"), [name]);
        assert!(fs.read_file(&name.to_uppercase(), 1).is_ok());
    }

    #[test]
    fn multi_cluster_and_fragmented_files() {
        let mut c = Crafted::new();
        let content: Vec<u8> = (0..1300u32).map(|i| (i * 7 % 251) as u8).collect();
        c.short(ROOT, 0, b"FRAG    BIN", 0x20, 9, content.len() as u32);
        c.chain(&[9, 4, 5]);
        c.write(9, &content[..512]);
        c.write(4, &content[512..1024]);
        c.write(5, &content[1024..]);
        let fs = c.open().unwrap();
        assert_eq!(fs.read_file("/frag.bin", 10_000).unwrap(), content);
    }

    fn corrupt_message(r: Result<Vec<u8>, FsError>) -> String {
        match r {
            Err(FsError::Corrupt(m)) => m,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn cluster_chain_loop_is_corrupt() {
        let mut c = Crafted::new();
        c.short(ROOT, 0, b"LOOP       ", 0x20, 2, 512 * 5);
        c.set_fat(2, 3);
        c.set_fat(3, 4);
        c.set_fat(4, 2);
        let fs = c.open().unwrap();
        let m = corrupt_message(fs.read_file("/loop", u64::MAX));
        assert!(m.contains("loops back to cluster 2"), "{m}");
    }

    #[test]
    fn chain_errors_name_the_cluster() {
        let mut c = Crafted::new();
        c.short(ROOT, 0, b"SHORT      ", 0x20, 2, 512 * 3);
        c.chain(&[2, 3]);
        c.short(ROOT, 1, b"LONG       ", 0x20, 4, 512);
        c.chain(&[4, 5]);
        c.short(ROOT, 2, b"OUT        ", 0x20, 6, 1024);
        c.set_fat(6, 0xF00);
        c.short(ROOT, 3, b"FREE       ", 0x20, 7, 1024);
        c.short(ROOT, 4, b"BADSTART   ", 0x20, 62, 10);
        c.short(ROOT, 5, b"HUGE       ", 0x20, 2, u32::MAX);
        c.short(ROOT, 6, b"BAD        ", 0x20, 8, 1024);
        c.set_fat(8, 0xFF7);
        let fs = c.open().unwrap();
        let m = corrupt_message(fs.read_file("/short", u64::MAX));
        assert!(m.contains("ends at cluster 3"), "{m}");
        let m = corrupt_message(fs.read_file("/long", u64::MAX));
        assert!(m.contains("cluster 4 links on to 5"), "{m}");
        let m = corrupt_message(fs.read_file("/out", u64::MAX));
        assert!(m.contains("points to cluster 3840"), "{m}");
        let m = corrupt_message(fs.read_file("/free", u64::MAX));
        assert!(m.contains("cluster 7 is free"), "{m}");
        let m = corrupt_message(fs.read_file("/badstart", u64::MAX));
        assert!(m.contains("first cluster 62"), "{m}");
        let m = corrupt_message(fs.read_file("/huge", u64::MAX));
        assert!(m.contains("needs"), "{m}");
        let m = corrupt_message(fs.read_file("/bad", u64::MAX));
        assert!(m.contains("marked bad"), "{m}");
        // The caller's limit is checked before the volume's.
        assert!(matches!(
            fs.read_file("/huge", 1 << 20),
            Err(FsError::TooLarge(_))
        ));
    }

    #[test]
    fn directory_loops_are_corrupt() {
        let mut c = Crafted::new();
        // A directory whose chain loops on itself.
        // Its entries are all deleted, so the end marker does not stop the
        // scan before the loop shows.
        c.short(ROOT, 0, b"CHAINLP    ", ATTR_DIRECTORY, 2, 0);
        c.set_fat(2, 3);
        c.set_fat(3, 2);
        for cluster in [2, 3] {
            for slot in 0..16 {
                c.img[Crafted::cluster_at(cluster) + slot * 32] = DELETED;
            }
        }
        // A directory that contains itself.
        c.short(ROOT, 1, b"SELF       ", ATTR_DIRECTORY, 4, 0);
        c.chain(&[4]);
        c.short(
            Crafted::cluster_at(4),
            0,
            b"INNER      ",
            ATTR_DIRECTORY,
            4,
            0,
        );
        // A directory with an impossible cluster.
        c.short(ROOT, 2, b"NOWHERE    ", ATTR_DIRECTORY, 0, 0);
        let fs = c.open().unwrap();
        match fs.list_dir("/chainlp") {
            Err(FsError::Corrupt(m)) => assert!(m.contains("loops back to cluster 2"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(names(&fs, "/self"), ["INNER"]);
        match fs.list_dir("/self/inner") {
            Err(FsError::Corrupt(m)) => assert!(m.contains("directory loop"), "{m}"),
            other => panic!("{other:?}"),
        }
        match fs.list_dir("/nowhere") {
            Err(FsError::Corrupt(m)) => assert!(m.contains("cluster 0"), "{m}"),
            other => panic!("{other:?}"),
        }
        // `..` is taken lexically, and the depth is capped.
        assert_eq!(names(&fs, "/self/../self"), ["INNER"]);
        let deep = "/self".repeat(MAX_PATH_DEPTH + 1);
        assert!(matches!(fs.list_dir(&deep), Err(FsError::TooLarge(_))));
    }

    #[test]
    fn long_directory_chains_are_capped() {
        // Tiny clusters, so 4097 of them pass the 65536-entry cap; the
        // chain is cut off by the cap before the image runs out.
        let mut img = Crafted::new().img;
        let sectors: u32 = 8 + 4200;
        img[19..21].copy_from_slice(&0u16.to_le_bytes());
        img[32..36].copy_from_slice(&sectors.to_le_bytes());
        img[22..24].copy_from_slice(&17u16.to_le_bytes());
        img.resize(sectors as usize * SECTOR, 0);
        // 1 reserved sector, 2 FATs of 17, 1 root sector: data at sector
        // 36, which leaves 4172 clusters: FAT16.
        let fat = SECTOR;
        let data = 36 * SECTOR;
        img[fat..fat + 4].copy_from_slice(&[0xF8, 0xFF, 0xFF, 0xFF]);
        for cluster in 2u32..4150 {
            let at = fat + cluster as usize * 2;
            img[at..at + 2].copy_from_slice(&((cluster + 1) as u16).to_le_bytes());
            // Every entry used, so the end marker never stops the scan.
            let c = data + (cluster as usize - 2) * SECTOR;
            for e in 0..16 {
                img[c + e * 32] = DELETED;
            }
        }
        let root = 35 * SECTOR;
        img[root..root + 11].copy_from_slice(b"BIG        ");
        img[root + 11] = ATTR_DIRECTORY;
        img[root + 26..root + 28].copy_from_slice(&2u16.to_le_bytes());
        let fs = Vfat::open(img).unwrap();
        assert_eq!(fs.fat_type(), FatType::Fat16);
        match fs.list_dir("/big") {
            Err(FsError::Corrupt(m)) => assert!(m.contains("65536 entries"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn boot_sector_checks() {
        let good = Crafted::new().img;
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut img = good.clone();
            f(&mut img);
            Vfat::open(img).err()
        };
        let not_fat = |e: Option<FsError>| matches!(e, Some(FsError::NotThisFs("vfat")));
        let is_corrupt = |e: Option<FsError>| matches!(e, Some(FsError::Corrupt(_)));
        assert!(with(&|_| {}).is_none());
        assert!(not_fat(with(&|i| i.truncate(100))));
        assert!(not_fat(with(&|i| i[12] = 0)));
        assert!(not_fat(with(
            &|i| i[11..13].copy_from_slice(&8192u16.to_le_bytes())
        )));
        assert!(not_fat(with(
            &|i| i[11..13].copy_from_slice(&768u16.to_le_bytes())
        )));
        assert!(not_fat(with(&|i| i[13] = 3)));
        assert!(not_fat(with(&|i| i[13] = 0)));
        assert!(not_fat(with(&|i| i[14] = 0)));
        assert!(not_fat(with(&|i| i[16] = 0)));
        assert!(not_fat(with(&|i| i[21] = 0x12)));
        assert!(not_fat(with(&|i| {
            i[0] = 0;
            i[510] = 0;
        })));
        assert!(is_corrupt(with(&|i| i.truncate(32 * SECTOR))));
        assert!(is_corrupt(with(&|i| i[19..21].fill(0))));
        assert!(is_corrupt(with(&|i| i[17..19].fill(0))));
        assert!(is_corrupt(with(&|i| i[16] = 200)));
        assert!(is_corrupt(with(&|i| i[13] = 128)));
        // More clusters than one FAT sector can map.
        assert!(is_corrupt(with(&|i| {
            i[19..21].copy_from_slice(&2000u16.to_le_bytes());
            i.resize(2000 * SECTOR, 0);
        })));
        // FAT32 layout with a root cluster out of range.
        assert!(is_corrupt(with(&|i| {
            i[22..24].fill(0);
            i[17..19].fill(0);
            i[36..40].copy_from_slice(&1u32.to_le_bytes());
            i[44..48].copy_from_slice(&999u32.to_le_bytes());
        })));
    }

    #[test]
    fn other_filesystems_are_not_fat() {
        let not_fat = |img: Vec<u8>| {
            assert_eq!(probe_label(&img), None);
            matches!(Vfat::open(img), Err(FsError::NotThisFs("vfat")))
        };
        // An ISO9660 image starts with 32 KiB of zeros.
        let mut iso = vec![0u8; 64 * 1024];
        iso[32769..32774].copy_from_slice(b"CD001");
        assert!(not_fat(iso));
        // A partitioned disk: an MBR with a partition entry and 0x55AA but
        // no BPB.
        let mut mbr = vec![0u8; 64 * 1024];
        mbr[446] = 0x80;
        mbr[450] = 0x0C;
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        assert!(not_fat(mbr));
        // ext4: the superblock is at 1024, the first sector is zeros.
        let mut ext = vec![0u8; 64 * 1024];
        ext[1024 + 56..1024 + 58].copy_from_slice(&0xEF53u16.to_le_bytes());
        assert!(not_fat(ext));
    }

    #[test]
    fn checksum_matches_what_mtools_wrote() {
        // mtools wrote "OPENST~1   " with checksum 0x02 (seen in a real
        // image), "MIXED   TXT" with 0x46.
        assert_eq!(short_name_checksum(b"OPENST~1   "), 0x02);
        assert_eq!(short_name_checksum(b"MIXED   TXT"), 0x46);
    }
}
