//! The realistic catalog of the search and web benches: Vietnamese program
//! metadata of a cluster's 11 stations, generated from a fixed seed and
//! cached under `target/bench-catalog-<N>-…` (reused while the generator and
//! the schema are unchanged).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use pxhub::catalog::{peers, programs, stations, Catalog};
use pxhub::domain::{
    Audience, Credit, EagerMirror, FileRecord, FileRole, Genre, Origin, Peer, ProgramId, ProgramInput, ProgramKind,
    ProgramMetadata, RightsInput, Secret, Sha256, Station, StationId, StationKind,
};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Bump when the generator changes, so cached catalogs are rebuilt.
const GENERATOR_VERSION: u32 = 2;
/// The schema the cached catalog was built with is part of its key too.
const SCHEMA: &str = include_str!("../../src/catalog/migrations/0001_init.sql");
const SEED: u64 = 0x5eed_2026;
/// Bump when the mirrored programs' generator changes (see [`mixed`]).
const MIRROR_VERSION: u32 = 1;
const MIRROR_SEED: u64 = 0x5eed_2026_0003;
const BATCH: usize = 10_000;

// ---------------------------------------------------------------------------
// Vocabulary

/// (id, name, province, kind, share of the catalog)
#[rustfmt::skip]
pub const STATIONS: &[(&str, &str, &str, StationKind, u32)] = &[
    ("thai-nguyen", "Đài PT-TH Thái Nguyên", "Thái Nguyên", StationKind::Provincial, 14),
    ("cao-bang", "Đài PT-TH Cao Bằng", "Cao Bằng", StationKind::Provincial, 10),
    ("quang-ninh", "Trung tâm Truyền thông Quảng Ninh", "Quảng Ninh", StationKind::Provincial, 13),
    ("bac-kan", "Đài PT-TH Bắc Kạn", "Bắc Kạn", StationKind::Provincial, 7),
    ("lang-son", "Đài PT-TH Lạng Sơn", "Lạng Sơn", StationKind::Provincial, 10),
    ("ha-giang", "Đài PT-TH Hà Giang", "Hà Giang", StationKind::Provincial, 9),
    ("tuyen-quang", "Đài PT-TH Tuyên Quang", "Tuyên Quang", StationKind::Provincial, 8),
    ("bac-giang", "Đài PT-TH Bắc Giang", "Bắc Giang", StationKind::Provincial, 10),
    ("phu-tho", "Đài PT-TH Phú Thọ", "Phú Thọ", StationKind::Provincial, 9),
    ("vtv", "Đài Truyền hình Việt Nam", "Hà Nội", StationKind::National, 5),
    ("vov", "Đài Tiếng nói Việt Nam", "Hà Nội", StationKind::National, 5),
];

/// The peer hub the mixed catalog mirrors programs from, as this hub
/// records it (`pxhub peer add --id cum-3 --name …`).
pub const PEER: (&str, &str) = ("cum-3", "Cụm 3 — Đồng bằng sông Hồng");

/// The peer's own stations (the mirrored programs' origin stations there).
#[rustfmt::skip]
pub const PEER_STATIONS: &[(&str, &str, &str, StationKind, u32)] = &[
    ("bac-ninh", "Đài PT-TH Bắc Ninh", "Bắc Ninh", StationKind::Provincial, 12),
    ("hai-duong", "Đài PT-TH Hải Dương", "Hải Dương", StationKind::Provincial, 11),
    ("hung-yen", "Đài PT-TH Hưng Yên", "Hưng Yên", StationKind::Provincial, 9),
    ("thai-binh", "Đài PT-TH Thái Bình", "Thái Bình", StationKind::Provincial, 11),
    ("nam-dinh", "Đài PT-TH Nam Định", "Nam Định", StationKind::Provincial, 12),
    ("ha-nam", "Đài PT-TH Hà Nam", "Hà Nam", StationKind::Provincial, 8),
    ("ninh-binh", "Đài PT-TH Ninh Bình", "Ninh Bình", StationKind::Provincial, 10),
    ("vinh-phuc", "Đài PT-TH Vĩnh Phúc", "Vĩnh Phúc", StationKind::Provincial, 10),
    ("hai-phong", "Đài PT-TH Hải Phòng", "Hải Phòng", StationKind::Provincial, 17),
];

/// The `k` commonest words (or phrases) of summaries and descriptions:
/// queries that match many programs.
pub fn common_words(k: usize) -> &'static [&'static str] {
    &WORDS[..k.min(WORDS.len())]
}

/// Words of summaries and descriptions, most frequent first (sampled with a
/// Zipf-like law, so the first few are everywhere and the tail is rare).
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "người dân", "của", "và", "trong", "các", "những", "được", "với", "cho", "đã", "phát triển",
    "năm", "địa phương", "xã", "huyện", "về", "kinh tế", "thực hiện", "cùng", "đồng bào", "tỉnh",
    "nhiều", "hộ", "bản", "cuộc sống", "vùng cao", "sản xuất", "mới", "chính quyền", "hiệu quả",
    "nông thôn", "mô hình", "giúp", "thôn", "gia đình", "công tác", "trồng", "thu nhập",
    "tuyên truyền", "đời sống", "thanh niên", "cây", "bà con", "tham gia", "dân tộc", "vận động",
    "truyền thống", "giảm nghèo", "xây dựng", "hỗ trợ", "chăn nuôi", "rừng", "nâng cao",
    "hợp tác xã", "sản phẩm", "giá trị", "trẻ em", "học sinh", "trường", "biên giới", "du lịch",
    "văn hóa", "lễ hội", "phụ nữ", "chè", "lúa", "ngô", "giống", "thị trường", "tiêu thụ",
    "khó khăn", "vượt qua", "ý chí", "tình hình", "an ninh", "trật tự", "bộ đội", "đồn", "mùa",
    "vụ", "thu hoạch", "nước sạch", "đường", "điện", "cầu", "trạm y tế", "bác sĩ", "khám bệnh",
    "tiêm chủng", "phòng chống", "dịch bệnh", "thiên tai", "mưa lũ", "sạt lở", "khắc phục",
    "cứu trợ", "chỉ đạo", "cán bộ", "đảng viên", "chi bộ", "nghị quyết", "đại hội", "bầu cử",
    "pháp luật", "phổ biến", "tòa án", "công an", "phong trào", "thi đua", "khen thưởng", "gương",
    "điển hình", "tiên tiến", "sáng tạo", "khởi nghiệp", "doanh nghiệp", "đầu tư", "dự án",
    "hạ tầng", "giao thông", "cao tốc", "cửa khẩu", "xuất khẩu", "nhập khẩu", "hàng hóa",
    "thương mại", "chợ phiên", "ẩm thực", "đặc sản", "thương hiệu", "chất lượng", "an toàn",
    "thực phẩm", "hữu cơ", "VietGAP", "OCOP", "chuyển đổi số", "công nghệ", "internet",
    "điện thoại", "mạng xã hội", "thông tin", "báo chí", "phát thanh", "truyền hình", "phóng viên",
    "nghệ nhân", "di sản", "bảo tồn", "phong tục", "tập quán", "trang phục", "nhà sàn", "làng nghề",
    "dệt", "thổ cẩm", "rèn", "mây tre", "đan", "hát then", "đàn tính", "múa", "khèn", "sáo",
    "dân ca", "trò chơi", "thể thao", "bóng đá", "bóng chuyền", "võ thuật", "đua thuyền", "kéo co",
    "ném còn", "giáo viên", "điểm trường", "bán trú", "khai giảng", "tốt nghiệp", "thi cử",
    "học bổng", "khuyến học", "thư viện", "sách", "đọc", "ngôn ngữ", "chữ viết", "tiếng Tày",
    "tiếng Nùng", "tiếng Mông", "tiếng Dao", "song ngữ", "môi trường", "rác thải", "ô nhiễm",
    "khí hậu", "biến đổi", "hạn hán", "nắng nóng", "rét đậm", "băng giá", "tuyết", "sương muối",
    "gia súc", "trâu", "bò", "lợn", "gà", "vịt", "cá", "ao", "hồ", "sông", "suối", "thác", "núi",
    "đèo", "hang động", "cao nguyên", "đá", "ruộng bậc thang", "nương", "vườn", "cam", "quýt",
    "hồng", "mận", "lê", "na", "vải thiều", "hồi", "quế", "dược liệu", "thuốc nam", "lương y",
    "người cao tuổi", "cựu chiến binh", "thương binh", "liệt sĩ", "tri ân", "kỷ niệm", "lịch sử",
    "cách mạng", "chiến khu", "an toàn khu", "di tích", "tượng đài", "bảo tàng", "hiện vật",
    "tư liệu", "ký ức", "câu chuyện", "nhân vật", "số phận", "tình yêu", "quê hương", "đất nước",
    "Tổ quốc", "chủ quyền", "hòa bình", "hữu nghị", "hợp tác", "láng giềng", "Trung Quốc", "Lào",
    "tết", "xuân", "hè", "thu", "đông", "sáng", "tối", "đêm", "chợ", "hàng rong", "bánh chưng",
    "bánh giầy", "xôi ngũ sắc", "lợn quay", "vịt quay", "măng", "nấm", "mộc nhĩ", "mật ong",
    "rượu ngô", "men lá", "tảo", "hải sản", "ngao", "sá sùng", "đảo", "biển", "ngư dân", "tàu cá",
    "cảng", "than", "mỏ", "khoáng sản", "công nhân", "nhà máy", "thủy điện", "điện gió",
    "năng lượng", "tiết kiệm",
];

/// Words a few programs use: a rare word appears in a sentence now and then.
#[rustfmt::skip]
const RARE_WORDS: &[&str] = &[
    "chè Shan tuyết", "hát sli", "hát lượn", "khau nhục", "mắc khén", "hạt dổi", "tam thất",
    "ba kích", "đẳng sâm", "sa nhân", "trâu ngố", "lợn đen", "dê núi", "cá tầm", "ngựa bạch",
    "bò u", "gà đen", "khẩu sli", "pá pỉnh tộp", "khâu nhục", "lẩu thắng cố", "cháo ấu tẩu",
    "bánh cuốn trứng", "phở chua", "vịt Bầu", "hồng không hạt", "quýt Bắc Sơn", "na Chi Lăng",
    "chè Tân Cương", "gạo Bao Thai", "miến dong", "thạch đen", "tương Bần", "rượu Tà Xùa",
    "đàn môi", "trống đồng", "nhạc cụ tính tẩu", "lễ cấp sắc", "lễ Lồng Tồng", "lễ hội Gầu Tào",
    "chợ tình Khâu Vai", "hoa tam giác mạch", "cột cờ Lũng Cú", "dốc Thẩm Mã", "Mã Pí Lèng",
    "Pác Bó", "Bản Giốc", "Ba Bể", "Na Hang", "Hồ Núi Cốc", "Yên Tử", "Cô Tô", "Quan Lạn",
    "Mẫu Sơn", "Tân Trào", "đền Hùng", "Xuân Sơn", "Tây Yên Tử", "Khuổi Nặm", "Thác Mơ",
];

#[rustfmt::skip]
const PLACES: &[&str] = &[
    "Định Hóa", "Đại Từ", "Phú Lương", "Võ Nhai", "Đồng Hỷ", "Tân Cương", "Trùng Khánh", "Hà Quảng",
    "Bảo Lạc", "Nguyên Bình", "Quảng Hòa", "Hạ Long", "Vân Đồn", "Móng Cái", "Bình Liêu",
    "Tiên Yên", "Ba Chẽ", "Cô Tô", "Ba Bể", "Chợ Đồn", "Na Rì", "Pác Nặm", "Ngân Sơn", "Cao Lộc",
    "Văn Quan", "Bắc Sơn", "Chi Lăng", "Đình Lập", "Mẫu Sơn", "Đồng Văn", "Mèo Vạc", "Yên Minh",
    "Hoàng Su Phì", "Xín Mần", "Quản Bạ", "Na Hang", "Lâm Bình", "Chiêm Hóa", "Hàm Yên",
    "Sơn Dương", "Yên Thế", "Lục Ngạn", "Sơn Động", "Lục Nam", "Tân Sơn", "Thanh Sơn", "Đoan Hùng",
    "Yên Lập", "Cẩm Khê", "Hạ Hòa",
];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hà", "Nông", "Lương", "Ma",
    "Triệu", "Lý", "Lò", "Vi", "Hứa", "Đàm", "Sầm", "Giàng", "Sùng", "Bàn",
];
#[rustfmt::skip]
const MIDDLE_NAMES: &[&str] = &[
    "Văn", "Thị", "Đức", "Minh", "Thu", "Ngọc", "Hồng", "Quang", "Thanh", "Xuân", "Mạnh", "Kim",
    "Hải", "Thế", "Bích", "A", "Seo", "Mí",
];
#[rustfmt::skip]
const GIVEN_NAMES: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Huyền", "Khánh",
    "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn",
    "Tùng", "Vân", "Yến", "Chiến", "Lâm", "Thắng", "Páo", "Chứ", "Sính", "Tâm",
];
#[rustfmt::skip]
const CREDIT_ROLES: &[&str] = &[
    "producer", "editor", "reporter", "camera", "presenter", "sound", "translator",
];

#[rustfmt::skip]
const SERIES: &[&str] = &[
    "Bản tin tiếng Tày", "Bản tin tiếng Nùng", "Bản tin tiếng Mông", "Bản tin tiếng Dao",
    "Chuyện làng", "Nông thôn mới", "Sức khỏe cho mọi nhà", "Vì an ninh Tổ quốc",
    "Dân tộc và phát triển", "Khám phá Việt Bắc", "Bạn nhà nông", "Vườn cổ tích",
    "Ký sự biên cương", "Sắc màu văn hóa", "Thể thao tuần qua", "Gương sáng vùng cao",
];

#[rustfmt::skip]
const TAGS: &[&str] = &[
    "nông nghiệp", "văn hóa", "dân tộc", "biên giới", "du lịch", "giáo dục", "y tế", "môi trường",
    "giảm nghèo", "nông thôn mới", "lễ hội", "ẩm thực", "thể thao", "an ninh", "thiên tai",
    "chuyển đổi số", "phụ nữ", "thanh niên", "trẻ em", "OCOP", "di sản", "tiếng Tày", "tiếng Mông",
    "Việt Bắc", "vùng cao",
];

#[rustfmt::skip]
const CROPS: &[&str] = &[
    "lúa mới", "chè xuân", "thu hoạch hồi", "ngô đông", "cam chín", "vải thiều", "mận hậu", "quế",
    "na", "khoai môn", "thạch đen", "dong riềng",
];
#[rustfmt::skip]
const FESTIVALS: &[&str] = &[
    "Lồng Tồng", "Gầu Tào", "Nàng Hai", "Kỳ Yên", "chợ tình Khâu Vai", "đền Hùng", "Yên Tử",
    "Tết nhảy", "cấp sắc", "hoa đào",
];
#[rustfmt::skip]
const HEALTH: &[&str] = &[
    "phòng chống sốt xuất huyết", "dinh dưỡng cho trẻ", "tiêm chủng mở rộng",
    "chăm sóc người cao tuổi", "phòng bệnh mùa rét", "an toàn thực phẩm", "thuốc nam",
];
#[rustfmt::skip]
const STORIES: &[&str] = &[
    "Sự tích hồ Ba Bể", "Cây tre trăm đốt", "Sọ Dừa", "Tấm Cám", "Chàng Lía", "Nàng Ngải",
    "Pú Lương Quân",
];

/// Genres with their share, and a title shape for each.
#[rustfmt::skip]
const GENRES: &[(Genre, u32)] = &[
    (Genre::News, 22),
    (Genre::Report, 14),
    (Genre::Documentary, 8),
    (Genre::Culture, 10),
    (Genre::Agriculture, 10),
    (Genre::EthnicAffairs, 8),
    (Genre::Education, 5),
    (Genre::Health, 5),
    (Genre::Sports, 5),
    (Genre::Entertainment, 5),
    (Genre::Children, 4),
    (Genre::Other, 4),
];

// ---------------------------------------------------------------------------
// Generator

struct Generator {
    rng: StdRng,
    /// Whose programs: this hub's stations, or a peer's.
    list: &'static [(&'static str, &'static str, &'static str, StationKind, u32)],
    /// Programs a peer shows other clusters: audience `all`.
    shared: bool,
    words: WeightedIndex<f64>,
    rare: WeightedIndex<f64>,
    places: WeightedIndex<f64>,
    stations: WeightedIndex<u32>,
    genres: WeightedIndex<u32>,
    aired_from: i64,
    aired_to: i64,
}

fn zipf(n: usize, s: f64) -> WeightedIndex<f64> {
    WeightedIndex::new((1..=n).map(|r| 1.0 / (r as f64).powf(s))).expect("weights")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Generator {
    fn new() -> Self {
        Self::with(SEED, STATIONS, false)
    }

    fn with(
        seed: u64,
        list: &'static [(&'static str, &'static str, &'static str, StationKind, u32)],
        shared: bool,
    ) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            list,
            shared,
            words: zipf(WORDS.len(), 1.0),
            rare: zipf(RARE_WORDS.len(), 1.0),
            places: zipf(PLACES.len(), 0.8),
            stations: WeightedIndex::new(list.iter().map(|s| s.4)).expect("weights"),
            genres: WeightedIndex::new(GENRES.iter().map(|g| g.1)).expect("weights"),
            aired_from: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap().timestamp(),
            aired_to: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap().timestamp(),
        }
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.gen_range(0..list.len())]
    }

    fn place(&mut self) -> &'static str {
        PLACES[self.places.sample(&mut self.rng)]
    }

    fn sentence(&mut self) -> String {
        let n = self.rng.gen_range(6..=14);
        let mut words: Vec<&str> = (0..n).map(|_| WORDS[self.words.sample(&mut self.rng)]).collect();
        if self.rng.gen_bool(0.03) {
            let at = self.rng.gen_range(0..=words.len());
            words.insert(at, RARE_WORDS[self.rare.sample(&mut self.rng)]);
        }
        if self.rng.gen_bool(0.3) {
            let at = self.rng.gen_range(0..=words.len());
            let place = self.place();
            words.insert(at, place);
        }
        format!("{}.", capitalise(&words.join(" ")))
    }

    fn sentences(&mut self, min: usize, max: usize) -> String {
        let n = self.rng.gen_range(min..=max);
        (0..n).map(|_| self.sentence()).collect::<Vec<_>>().join(" ")
    }

    fn name(&mut self) -> String {
        let first = if self.rng.gen_bool(0.35) {
            "Nguyễn"
        } else {
            self.pick(FIRST_NAMES)
        };
        format!("{first} {} {}", self.pick(MIDDLE_NAMES), self.pick(GIVEN_NAMES))
    }

    fn title(&mut self, genre: Genre, province: &str, aired: DateTime<Utc>) -> String {
        let day = aired.format("%-d/%-m");
        let place = self.place();
        match genre {
            Genre::News => match self.rng.gen_range(0..4) {
                0 => format!("Thời sự sáng {day}"),
                1 => format!("Thời sự trưa {day}"),
                2 => format!("Thời sự tối {day}"),
                _ => format!("Bản tin {province} {day}"),
            },
            Genre::Report => match self.rng.gen_range(0..4) {
                0 => format!("Phóng sự: Đường lên {place}"),
                1 => format!("Phóng sự: Người giữ rừng {place}"),
                2 => format!("Phóng sự: Những cô giáo cắm bản ở {place}"),
                _ => format!("Phóng sự: Mùa {} ở {place}", self.pick(CROPS)),
            },
            Genre::Documentary => match self.rng.gen_range(0..3) {
                0 => format!("Ký sự {place}"),
                1 => format!("{place} – miền đất huyền thoại"),
                _ => format!("Phim tài liệu: Dấu chân trên đá {place}"),
            },
            Genre::Culture => match self.rng.gen_range(0..3) {
                0 => format!("Lễ hội {} {place}", self.pick(FESTIVALS)),
                1 => format!("Hát then ở {place}"),
                _ => format!("Sắc màu văn hóa {province}"),
            },
            Genre::Agriculture => match self.rng.gen_range(0..2) {
                0 => format!("Nông nghiệp {place} mùa {}", self.pick(CROPS)),
                _ => format!("Bạn nhà nông: Vụ {} ở {place}", self.pick(CROPS)),
            },
            Genre::EthnicAffairs => match self.rng.gen_range(0..2) {
                0 => format!("Dân tộc và phát triển: {place}"),
                _ => format!("Bản tin tiếng {} {day}", self.pick(&["Tày", "Nùng", "Mông", "Dao"])),
            },
            Genre::Education => format!("Điểm trường {place} ngày khai giảng"),
            Genre::Health => format!("Sức khỏe cho mọi nhà: {}", capitalise(self.pick(HEALTH))),
            Genre::Sports => match self.rng.gen_range(0..2) {
                0 => format!("Thể thao {province} tuần qua"),
                _ => format!("Giải bóng chuyền {place} {}", aired.format("%Y")),
            },
            Genre::Entertainment => match self.rng.gen_range(0..2) {
                0 => format!("Ca nhạc: Về {place}"),
                _ => "Sân khấu cuối tuần".to_string(),
            },
            Genre::Children => match self.rng.gen_range(0..2) {
                0 => format!("Vườn cổ tích: {}", self.pick(STORIES)),
                _ => format!("Góc thiếu nhi {day}"),
            },
            Genre::Other => match self.rng.gen_range(0..2) {
                0 => format!("Chuyện làng {place}"),
                _ => format!("Tạp chí {province} {day}"),
            },
        }
    }

    /// One program: its station, metadata, creation time, and what becomes
    /// of it (draft, published, withdrawn).
    fn program(&mut self) -> (StationId, ProgramMetadata, DateTime<Utc>, Fate) {
        let (station, _, province, kind, _) = self.list[self.stations.sample(&mut self.rng)];
        let genre = GENRES[self.genres.sample(&mut self.rng)].0;
        let aired_secs = self.rng.gen_range(self.aired_from..self.aired_to);
        let aired = Utc.timestamp_opt(aired_secs, 0).unwrap();
        let title = self.title(genre, province, aired);
        let program_kind = match (station, kind) {
            ("vtv", _) => ProgramKind::Tv,
            ("vov", _) => ProgramKind::Radio,
            _ if self.rng.gen_bool(0.55) => ProgramKind::Tv,
            _ => ProgramKind::Radio,
        };
        let summary = self.rng.gen_bool(0.9).then(|| self.sentences(1, 2));
        let description = self.rng.gen_bool(0.6).then(|| self.sentences(1, 3));
        let tags = (0..self.rng.gen_range(0..=4))
            .map(|_| {
                if self.rng.gen_bool(0.3) {
                    self.place().to_string()
                } else {
                    self.pick(TAGS).to_string()
                }
            })
            .collect();
        let languages: Vec<String> = match self.rng.gen_range(0..100) {
            0..=79 => vec!["vi"],
            80..=87 => vec!["vi", "tyz"],
            88..=91 => vec!["tyz"],
            92..=94 => vec!["nut"],
            95..=97 => vec!["hnj"],
            _ => vec!["ium", "vi"],
        }
        .into_iter()
        .map(String::from)
        .collect();
        let (series, episode) = if self.rng.gen_bool(0.5) {
            (Some(self.pick(SERIES).to_string()), Some(self.rng.gen_range(1..=500)))
        } else {
            (None, None)
        };
        let credits = (0..self.rng.gen_range(0..=4))
            .map(|_| Credit {
                role: self.pick(CREDIT_ROLES).to_string(),
                name: self.name(),
            })
            .collect();
        let created = aired + chrono::Duration::seconds(self.rng.gen_range(3_600..5 * 86_400));
        let mut rights = RightsInput::default();
        match self.rng.gen_range(0..100) {
            0..=87 => {}
            88..=94 => rights.audience = Audience::National,
            _ => {
                rights.audience = Audience::Stations;
                for _ in 0..self.rng.gen_range(1..=3) {
                    let s = self.list[self.rng.gen_range(0..self.list.len())].0;
                    rights.stations.push(s.to_string());
                }
            }
        }
        if self.shared {
            // Only what its audience lets other clusters see reaches a peer.
            rights.audience = Audience::All;
            rights.stations.clear();
        }
        if self.rng.gen_bool(0.08) {
            rights.available_until = Some(created + chrono::Duration::days(self.rng.gen_range(90..1_500)));
        }
        if self.rng.gen_bool(0.3) {
            rights.terms = Some("Ghi rõ nguồn khi phát lại".into());
        }
        let input = ProgramInput {
            title,
            summary,
            description,
            tags,
            kind: program_kind,
            genre,
            languages,
            series,
            episode,
            first_aired_at: (!self.rng.gen_bool(0.03)).then_some(aired),
            duration_seconds: Some(self.rng.gen_range(60..=7_200)),
            credits,
            rights,
        };
        let meta = ProgramMetadata::parse(input).expect("generated metadata is valid");
        let fate = match self.rng.gen_range(0..100) {
            0..=5 => Fate::Draft,
            6..=96 => Fate::Published,
            _ => Fate::Withdrawn,
        };
        (StationId::parse(station).unwrap(), meta, created, fate)
    }
}

enum Fate {
    Draft,
    Published,
    Withdrawn,
}

pub fn generate(catalog: &Catalog, n: usize) -> rusqlite::Result<()> {
    catalog.write_blocking(|tx| {
        for &(id, name, province, kind, _) in STATIONS {
            stations::insert(
                tx,
                &Station {
                    id: StationId::parse(id).unwrap(),
                    name: name.into(),
                    province: province.into(),
                    kind,
                },
            )?;
        }
        Ok::<_, rusqlite::Error>(())
    })?;
    let mut g = Generator::new();
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let batch = BATCH.min(n - done);
        catalog.write_blocking(|tx| {
            for _ in 0..batch {
                let (station, meta, created, fate) = g.program();
                let id = ProgramId::generate();
                let seq = programs::insert(tx, id, &station, &meta, created)?;
                if matches!(fate, Fate::Published | Fate::Withdrawn) {
                    // A program is only published with its master (as a
                    // mirror has its own): the page of a search reads it.
                    // Its size comes from its place, so that the programs
                    // drawn stay those of earlier versions.
                    let master = FileRecord {
                        role: FileRole::Master,
                        filename: format!("{id}.mxf"),
                        media_type: "application/mxf".into(),
                        size: 50_000_000 + (seq as u64).wrapping_mul(7_919_993) % 19_950_000_000,
                        sha256: Sha256::of(id.to_string().as_bytes()),
                        analysis: None,
                    };
                    programs::put_file(tx, seq, &master)?;
                    let published = created + chrono::Duration::minutes(g.rng.gen_range(5..600));
                    programs::publish(tx, seq, published)?;
                    if matches!(fate, Fate::Withdrawn) {
                        let at = published + chrono::Duration::days(g.rng.gen_range(1..60));
                        programs::withdraw(tx, seq, "Hết quyền phát lại", at)?;
                    }
                }
            }
            Ok::<_, rusqlite::Error>(())
        })?;
        done += batch;
        if done % 100_000 == 0 || done == n {
            eprintln!("  {done}/{n} programs ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// Where the catalog of `n` programs is cached, keyed by the generator
/// version and the schema.
pub fn cache_dir(n: usize) -> PathBuf {
    let mut h = DefaultHasher::new();
    SCHEMA.hash(&mut h);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join(format!(
        "bench-catalog-{n}-g{GENERATOR_VERSION}-s{:08x}",
        h.finish() as u32
    ))
}

/// Opens the catalog of `n` programs, generating it when it is not cached.
/// The temporary directory (with `--fresh`) must outlive the catalog.
pub fn catalog(n: usize, fresh: bool) -> (Catalog, PathBuf, Option<tempfile::TempDir>) {
    let (dir, tmp) = if fresh {
        let tmp = tempfile::tempdir().expect("temporary directory");
        (tmp.path().to_owned(), Some(tmp))
    } else {
        (cache_dir(n), None)
    };
    let db = dir.join("catalog.db");
    let marker = dir.join("complete");
    if let Ok(secs) = std::fs::read_to_string(&marker) {
        eprintln!(
            "catalog of {n}: reusing {} (generated in {} s)",
            dir.display(),
            secs.trim()
        );
        return (Catalog::open(&db).expect("open catalog"), db, tmp);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("catalog directory");
    eprintln!("catalog of {n}: generating into {}", dir.display());
    let started = Instant::now();
    let catalog = Catalog::open(&db).expect("open catalog");
    generate(&catalog, n).expect("generate catalog");
    let secs = started.elapsed().as_secs_f64();
    eprintln!("catalog of {n}: generated in {secs:.1} s");
    std::fs::write(&marker, format!("{secs:.1}")).expect("marker");
    (catalog, db, tmp)
}

/// Adds `m` programs mirrored from the peer [`PEER`], stored as the peer
/// worker stores them (`exchange::delivery::peers`): the peer's station row
/// (kind `peer`) and its record, then for each program a mirror owned by
/// that station with its origin (the station there, its name, its id
/// there), the peer's file records, published at once; a few withdrawn
/// later by their origin. The same vocabulary as this hub's programs, the
/// peer's own stations, audience `all` (only such programs reach a peer).
pub fn mirror(catalog: &Catalog, m: usize) -> rusqlite::Result<()> {
    let peer = StationId::parse(PEER.0).unwrap();
    catalog.write_blocking(|tx| {
        let station = Station {
            id: peer.clone(),
            name: PEER.1.into(),
            province: String::new(),
            kind: StationKind::Peer,
        };
        stations::insert(tx, &station)?;
        peers::insert(
            tx,
            &Peer {
                id: peer.clone(),
                name: PEER.1.into(),
                url: "http://127.0.0.1:9/".into(),
                token: Secret::new("bench-peer-token"),
                cursor: None,
                last_error: None,
                created_at: Utc::now(),
                polled_at: None,
                wake_secret: None,
                wake_hook: None,
                eager: EagerMirror::None,
                eager_max_bytes: 0,
            },
        )?;
        Ok::<_, rusqlite::Error>(())
    })?;
    let mut g = Generator::with(MIRROR_SEED, PEER_STATIONS, true);
    let started = Instant::now();
    let mut done = 0;
    while done < m {
        let batch = BATCH.min(m - done);
        catalog.write_blocking(|tx| {
            for _ in 0..batch {
                let (station, meta, created, fate) = g.program();
                // The worker mirrors a program when the peer's feed shows it
                // published, and publishes the mirror in the same transaction.
                let at = created + chrono::Duration::minutes(g.rng.gen_range(5..600));
                let name = PEER_STATIONS
                    .iter()
                    .find(|s| s.0 == station.as_str())
                    .map_or("", |s| s.1);
                let origin = Origin {
                    peer: peer.clone(),
                    station: station.as_str().to_owned(),
                    station_name: name.to_owned(),
                    program_id: ProgramId::generate().to_string(),
                };
                let seq = peers::insert_mirror(tx, ProgramId::generate(), &origin, &meta, at)?;
                let master = FileRecord {
                    role: FileRole::Master,
                    filename: format!("{}.mxf", origin.program_id),
                    media_type: "application/mxf".into(),
                    size: g.rng.gen_range(50_000_000..20_000_000_000),
                    sha256: Sha256::of(origin.program_id.as_bytes()),
                    analysis: None,
                };
                peers::replace_files(tx, seq, &[master])?;
                programs::publish(tx, seq, at)?;
                if matches!(fate, Fate::Withdrawn) {
                    let later = at + chrono::Duration::days(g.rng.gen_range(1..60));
                    programs::withdraw(tx, seq, "Đã rút tại nơi phát hành", later)?;
                }
            }
            Ok::<_, rusqlite::Error>(())
        })?;
        done += batch;
        if done % 100_000 == 0 || done == m {
            eprintln!(
                "  {done}/{m} mirrored programs ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Opens the catalog of `n` programs of this hub plus `m` mirrored from a
/// peer: a copy of the catalog of `n` at `base` (the very same programs)
/// with [`mirror`]'s programs added after them, as a hub that starts
/// following a peer has. Cached beside the catalog of `n`, keyed by it, `m`
/// and the mirror generator's version.
pub fn mixed(n: usize, m: usize, base: &Path, fresh: bool) -> (Catalog, PathBuf, Option<tempfile::TempDir>) {
    let (dir, tmp) = if fresh {
        let tmp = tempfile::tempdir().expect("temporary directory");
        (tmp.path().to_owned(), Some(tmp))
    } else {
        let alone = cache_dir(n);
        let name = alone.file_name().expect("a name").to_string_lossy().into_owned();
        (alone.with_file_name(format!("{name}-m{m}-r{MIRROR_VERSION}")), None)
    };
    let db = dir.join("catalog.db");
    let marker = dir.join("complete");
    if let Ok(secs) = std::fs::read_to_string(&marker) {
        eprintln!(
            "catalog of {n} + {m} mirrored: reusing {} (generated in {} s)",
            dir.display(),
            secs.trim()
        );
        return (Catalog::open(&db).expect("open catalog"), db, tmp);
    }
    if !fresh {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::fs::create_dir_all(&dir).expect("catalog directory");
    eprintln!(
        "catalog of {n} + {m} mirrored: copying {} into {}",
        base.display(),
        dir.display()
    );
    let started = Instant::now();
    {
        let conn = rusqlite::Connection::open(base).expect("open the catalog of n");
        conn.execute("VACUUM INTO ?1", [db.to_str().expect("a UTF-8 path")])
            .expect("copy the catalog of n");
    }
    let catalog = Catalog::open(&db).expect("open catalog");
    mirror(&catalog, m).expect("mirror programs");
    let secs = started.elapsed().as_secs_f64();
    eprintln!("catalog of {n} + {m} mirrored: generated in {secs:.1} s");
    std::fs::write(&marker, format!("{secs:.1}")).expect("marker");
    (catalog, db, tmp)
}
