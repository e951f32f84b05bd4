# The pages' words in Vietnamese (the first language). Keep the same ids in
# en.ftl: a test fails when they differ. Terms follow GLOSSARY.md.

hub-name = Kho trao đổi chương trình
skip-to-content = Chuyển đến nội dung chính
nav-label = Điều hướng chính
nav-catalog = Tìm chương trình
nav-offer = Chia sẻ chương trình
nav-station = Đài của tôi
nav-report = Báo cáo trao đổi
nav-admin = Quản trị
other-language = English
footer = Kho trao đổi chương trình của các đài phát thanh - truyền hình trong cụm.
back-to-catalog = Về trang tìm chương trình

## Signing in
sign-in = Đăng nhập
sign-out = Đăng xuất
login-name = Tên đăng nhập
password = Mật khẩu
sign-in-failed = Tên đăng nhập hoặc mật khẩu không đúng.
sign-in-locked = Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau ít phút.
sign-in-busy = Đang có nhiều người đăng nhập cùng lúc. Vui lòng thử lại sau giây lát.
unlock-login = Tên đăng nhập bị khóa vì đăng nhập sai
unlock = Mở khóa
login-unlocked = { $name } có thể đăng nhập lại.
login-not-locked = { $name } không bị khóa; các lần đăng nhập sai đã được xóa.

## Account
account-title = Tài khoản của tôi
person-role = Vai trò
person-role-editor = Biên tập viên
person-role-viewer = Người xem
person-role-operator = Quản trị
change-password = Đổi mật khẩu
current-password = Mật khẩu hiện tại
new-password = Mật khẩu mới
confirm-password = Nhập lại mật khẩu mới
password-hint = Ít nhất 10 ký tự.
password-changed = Đã đổi mật khẩu. Các phiên đăng nhập khác đã kết thúc.
password-mismatch = Hai mật khẩu mới không giống nhau.
password-wrong = Mật khẩu hiện tại không đúng.
password-too-short = Mật khẩu mới phải có ít nhất 10 ký tự.
page-language = Ngôn ngữ trang
save = Lưu

## Errors
error-title = Không thực hiện được
error-unauthorized = Vui lòng đăng nhập.
error-forbidden = Bạn không có quyền làm việc này.
error-not-found = Không tìm thấy.
error-withdrawn = Chương trình đã bị thu hồi.
error-window-closed = Chương trình đang ngoài thời gian được khai thác.
error-conflict = Thao tác không phù hợp với trạng thái hiện tại.
error-invalid = Dữ liệu gửi lên không hợp lệ.
error-too-many = Quá nhiều yêu cầu, vui lòng thử lại sau.
error-internal = Hệ thống gặp lỗi; lỗi đã được ghi lại.
error-storage = Kho lưu trữ của hệ thống chưa sẵn sàng; chưa có gì được ghi lại. Vui lòng thử lại sau ít phút.
error-csrf = Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và thử lại.
error-date = Ngày giờ không hợp lệ.
error-number = Phải là một số.
error-master-required = Cần tải lên bản gốc trước khi đăng.
error-analysis-pending = Bản gốc đang được kiểm tra; vui lòng đăng lại sau ít phút, khi kiểm tra xong.
error-no-station = Tài khoản này không thuộc đài nào.

## Catalog
catalog-title = Tìm chương trình
search = Tìm kiếm
search-label = Tìm theo tên, nội dung, chuyên mục (có dấu hoặc không dấu)
search-placeholder = Ví dụ: đường lên Định Hóa
sort-label = Sắp xếp
sort-default = Mặc định
sort-relevance = Phù hợp nhất
sort-newest = Mới nhất
sort-aired = Ngày phát
sort-title = Tên chương trình
available-now = Chỉ chương trình khai thác được ngay
filters = Bộ lọc
facet-station = Đài
facet-kind = Loại hình
facet-genre = Thể loại
facet-language = Ngôn ngữ
results-total = { $n } chương trình
no-results = Không có chương trình nào phù hợp.
already-taken = Đài đã khai thác
pages = Trang
first-page = Trang đầu
next-page = Trang sau

## Rights badges
badge-cluster = Cả cụm
badge-national = Chỉ VTV/VOV
badge-stations = Các đài được chọn
badge-expired = Hết hạn
badge-from = Từ { $date }
days-left = Còn { $n } ngày
why-withdrawn = Chương trình đã bị thu hồi: { $reason }
why-expired = Hết thời gian khai thác từ ngày { $date }; không tải về được nữa.
why-not-yet = Chưa đến thời gian khai thác (từ ngày { $date }).

## Program
rights = Quyền khai thác
files = Tệp
file = Tệp
no-files = Chưa có tệp nào.
download = Tải về
ebucore-link = Siêu dữ liệu EBUCore (XML)
manage = Quản lý
publish = Đăng
withdraw = Thu hồi
withdraw-reason = Lý do thu hồi
upload-master = Tải lên tệp
takes-title = Các đài đã khai thác
no-takes = Chưa đài nào khai thác.
rebroadcasts-title = Phát lại
no-rebroadcasts = Chưa có báo cáo phát lại.
report-rebroadcast = Báo cáo phát lại
aired-at = Thời điểm phát
channel = Kênh
note = Ghi chú
history = Ai đã làm gì, khi nào
no-history = Chưa có thao tác nào của người dùng.
when = Thời gian
who = Người thực hiện
what = Thao tác
detail = Chi tiết
published-at = Ngày đăng
from-publication = Từ khi đăng
no-end = Không thời hạn
yes = Có
no = Không
program = Chương trình
station = Đài
stations = Các đài
national-broadcaster = đài quốc gia

## Fields
field-title = Tên chương trình
field-summary = Tóm tắt
field-description = Nội dung
field-tags = Từ khóa
field-tags-hint = Từ khóa (cách nhau bằng dấu phẩy)
field-kind = Loại hình
field-genre = Thể loại
field-languages = Ngôn ngữ
field-other-languages = Ngôn ngữ khác (mã BCP 47, ví dụ: fr, km)
field-series = Chuyên mục
field-episode = Số/tập
field-first-aired = Phát lần đầu
field-duration = Thời lượng
field-audience = Đối tượng được khai thác
field-stations = Các đài được chọn
field-stations-hint = Các đài được chọn (khi chọn "Các đài được chọn")
field-available-from = Được khai thác từ
field-available-until = Được khai thác đến
field-credit-required = Ghi nguồn khi phát
field-terms = Điều kiện
credit-producer = Sản xuất
credit-editor = Biên tập
credit-reporter = Phóng viên
minutes = Phút
seconds = Giây
choose = — Chọn —

## Offer and upload
offer-title = Chia sẻ chương trình
offer-what = Thông tin chương trình
offer-next = Lưu và tải tệp lên
offer-has-errors = Vui lòng sửa các mục được đánh dấu bên dưới.
upload-title = Tải tệp lên
file-role = Loại tệp
choose-file = Chọn hoặc kéo thả tệp
upload = Tải lên
pause = Tạm dừng
resume = Tiếp tục
progress = Tiến độ
time-left = còn lại
upload-done = Đã tải lên xong.
upload-failed = Tải lên không thành công; bấm Tiếp tục để thử lại.
upload-resuming = Tiếp tục từ phần đã tải lên trước đó.
upload-unfinished = Có tệp tải lên dở dang; chọn lại đúng tệp đó để tải tiếp.
upload-paused = Đã tạm dừng.
upload-waiting = Mất kết nối. Trang sẽ tự tải tiếp khi có mạng trở lại (thử lại mỗi 30 giây); không cần làm gì.
upload-signed-out = Phiên đăng nhập đã kết thúc. Hãy đăng nhập lại rồi chọn lại đúng tệp này: việc tải lên sẽ tiếp tục từ phần đã tới.
upload-needs-js = Cần bật JavaScript để tải tệp lên qua trang này.
publish-ready = Bản gốc đã có; có thể đăng chương trình.
publish-after-upload = Đăng chương trình sau khi tải bản gốc lên.

## My station
taken-of-ours = Các đài khác đã khai thác của đài mình
we-took = Đài mình đã khai thác
none = Chưa có.

## Report
report-title = Báo cáo trao đổi chương trình năm { $year }
year = Năm
show = Xem
download-csv = Tải về CSV
contributed = Chương trình đã chia sẻ
given = Đã chia sẻ
taken = Đã khai thác
chart-title = Số chương trình đã chia sẻ (được đài khác khai thác) và đã khai thác, theo đài

## Administration
people = Người dùng
name = Tên
province = Tỉnh
station-kind = Loại đài
station-kind-provincial = Đài tỉnh
station-kind-national = Đài quốc gia
add-station = Thêm đài
add-person = Thêm người dùng
tokens = Mã truy cập (token) cho máy
token-label = Mục đích
token-id = Mã định danh token
issue-token = Cấp token
revoke-token = Thu hồi token
shown-once = Chỉ hiển thị một lần, hãy lưu lại:
station-added = Đã thêm đài { $name }.
person-added = Đã thêm người dùng { $name }.
token-issued = Đã cấp token { $name }.
token-revoked = Đã thu hồi token { $name }.

station-tokens = Mã truy cập (token) của đài
created = Ngày tạo
token-state = Trạng thái
token-live = Đang dùng
token-revoked-state = Đã thu hồi

## The domain's words
kind-radio = Phát thanh
kind-tv = Truyền hình
genre-news = Thời sự
genre-report = Phóng sự
genre-documentary = Phim tài liệu
genre-culture = Văn hóa
genre-agriculture = Nông nghiệp
genre-ethnic-affairs = Dân tộc
genre-education = Giáo dục
genre-health = Sức khỏe
genre-sports = Thể thao
genre-entertainment = Giải trí
genre-children = Thiếu nhi
genre-other = Khác
status-draft = Bản nháp
status-published = Đã đăng
status-withdrawn = Đã thu hồi
role-master = Bản gốc
role-preview = Bản nghe-xem thử
role-script = Kịch bản
role-artwork = Ảnh đại diện
role-subtitle = Phụ đề
audience-cluster = Các đài trong cụm
audience-national = Chỉ đài quốc gia
audience-stations = Các đài được chọn
action-created = Tạo bản nháp
action-uploaded = Tải lên
action-published = Đăng
action-withdrew = Thu hồi
action-took = Khai thác
action-rebroadcast = Báo cáo phát lại
lang-vi = Tiếng Việt
lang-tyz = Tày
lang-nut = Nùng
lang-hnj = Mông
lang-ium = Dao
lang-mlc = Cao Lan
lang-blt = Thái
lang-mtq = Mường
lang-zh = Tiếng Hoa
lang-en = Tiếng Anh

# Follows
follow-title = Theo dõi
follow-this = Theo dõi chương trình này
following = Đang theo dõi
follow-series = Loạt chương trình «{ $name }»: mỗi số mới đến với đài mình.
follow-station = Mọi chương trình của { $name }.
follows-title = Đang theo dõi
follow-kind = Loại
follow-value = Theo dõi gì
follow-deliver = Tự động chuyển về
follow-roles = Tệp chuyển về
follow-kind-series = Loạt chương trình
follow-kind-station = Đài
follow-kind-genre = Thể loại
follow-kind-search = Tìm kiếm đã lưu
unfollow = Bỏ theo dõi

# Analysis of each file
analysis = Phân tích
analysis-pending = đang chờ phân tích
analysis-running = đang phân tích
analysis-done = đã phân tích
analysis-failed = không phân tích được
analysis-container = Định dạng
analysis-audio = Âm thanh
analysis-video = Hình ảnh
analysis-channels = { $n } kênh
analysis-loudness = Độ to (EBU R128)
qc = Kiểm tra kỹ thuật
qc-pass = đạt
qc-warn = cần lưu ý
qc-fail = không đạt
preview-of = Nghe/xem thử
no-preview = Chưa có bản nghe thử.

# Webhooks on the administration page
webhooks = Webhook
webhooks-on-api = Đăng ký webhook qua API (POST /api/v1/webhooks); ở đây xem và gỡ.
webhook-subscriber = Bên đăng ký
webhook-events = Sự kiện
webhook-state = Đang hoạt động; lần gửi cuối: { $name }
delivery-none = chưa gửi lần nào
delivery-pending = đang chờ gửi
delivery-delivered = đã gửi
delivery-failed = thất bại
remove-webhook = Gỡ webhook
webhook-removed = Đã gỡ webhook { $name }.

facet-available = Thời hạn
facet-available-now = Khai thác được ngay

# Push delivery (on "My station")
pushes-title = Chuyển thẳng vào máy chủ của đài
push-file = Tệp
push-state = Trạng thái
push-progress = Đã chuyển
push-error = Lỗi
redeliver = Chuyển lại
push-state-pending = đang chờ
push-state-sending = đang chuyển
push-state-done = đã xong
push-state-failed = thất bại
push-state-waiting_window = chờ đến thời hạn khai thác
push-error-password = Máy chủ không nhận tên đăng nhập hoặc mật khẩu.
push-error-full = Máy chủ đã đầy, không còn chỗ cho tệp.
push-error-denied = Máy chủ không cho ghi vào thư mục này.
push-error-connect = Không kết nối được tới máy chủ.
push-error-dropped = Kết nối bị đứt giữa chừng; sẽ chuyển tiếp từ chỗ đã dừng.
push-error-host-key = Khóa máy chủ (host key) khác lần đầu; nếu đài đã đổi máy chủ, hãy xóa rồi thêm lại đích chuyển.
push-error-address = Địa chỉ này không được phép chuyển tới.
push-error-withdrawn = Đã dừng: chương trình bị rút.
push-error-changed = Đã dừng: chương trình đã thay đổi và sẽ được chuyển lại.
push-error-removed = Đích chuyển đã bị xóa.
