# The pages' words in English (the second language). Same ids as vi.ftl.

hub-name = Program exchange
skip-to-content = Skip to the main content
nav-label = Main navigation
nav-catalog = Find programs
nav-offer = Offer a program
nav-station = My station
nav-report = Exchange report
nav-admin = Administration
other-language = Tiếng Việt
footer = The program exchange of the cluster's radio and television stations.
back-to-catalog = Back to the catalog

## Signing in
sign-in = Sign in
sign-out = Sign out
login-name = Login
password = Password
sign-in-failed = Wrong login or password.
sign-in-locked = Too many failed sign-ins. Please try again in a few minutes.
sign-in-busy = Many people are signing in right now. Please try again in a moment.
unlock-login = Login locked by failed sign-ins
unlock = Unlock
login-unlocked = { $name } may sign in again.
login-not-locked = { $name } was not locked; its failed sign-ins are forgotten.

## Account
account-title = My account
person-role = Role
person-role-editor = Editor
person-role-viewer = Viewer
person-role-operator = Operator
change-password = Change password
current-password = Current password
new-password = New password
confirm-password = New password again
password-hint = At least 10 characters.
password-changed = Password changed. Your other sessions have ended.
password-mismatch = The two new passwords differ.
password-wrong = The current password is wrong.
password-too-short = The new password must be at least 10 characters.
page-language = Page language
save = Save

## Errors
error-title = That did not work
error-unauthorized = Please sign in.
error-forbidden = You may not do this.
error-not-found = Not found.
error-withdrawn = The program was withdrawn.
error-window-closed = The program is outside its rebroadcast window.
error-conflict = This does not fit the program's current state.
error-invalid = What was sent is not valid.
error-too-many = Too many requests; please try again later.
error-internal = The hub ran into an error; it has been logged.
error-storage = The hub's storage is not available; nothing was recorded. Please try again shortly.
error-csrf = The form has expired or is not valid. Please reload the page and try again.
error-date = Not a valid date and time.
error-number = Must be a number.
error-master-required = Upload the master file before publishing.
error-analysis-pending = The master is still being checked; publish it in a minute, once its analysis is done.
error-no-station = This account belongs to no station.

## Catalog
catalog-title = Find programs
search = Search
search-label = Search titles, content, series (with or without Vietnamese marks)
search-placeholder = For example: đường lên Định Hóa
sort-label = Sort
sort-default = Default
sort-relevance = Best match
sort-newest = Newest
sort-aired = First aired
sort-title = Title
available-now = Only what can be taken now
filters = Filters
facet-station = Station
facet-kind = Kind
facet-genre = Genre
facet-language = Language
results-total = { $n } programs
no-results = No program matches.
already-taken = Taken by your station
pages = Pages
first-page = First page
next-page = Next page

## Rights badges
badge-cluster = Whole cluster
badge-national = VTV/VOV only
badge-stations = Chosen stations
badge-expired = Expired
badge-from = From { $date }
days-left = { $n } days left
why-withdrawn = The program was withdrawn: { $reason }
why-expired = Its rebroadcast window closed on { $date }; it can no longer be downloaded.
why-not-yet = Its rebroadcast window has not opened yet (from { $date }).

## Program
rights = Rights
files = Files
file = File
no-files = No files yet.
download = Download
ebucore-link = EBUCore metadata (XML)
manage = Manage
publish = Publish
withdraw = Withdraw
withdraw-reason = Reason for withdrawing
upload-master = Upload a file
takes-title = Stations that took it
no-takes = No station has taken it yet.
rebroadcasts-title = Rebroadcasts
no-rebroadcasts = No rebroadcast reported yet.
report-rebroadcast = Report a rebroadcast
aired-at = Aired at
channel = Channel
note = Note
history = Who did what, when
no-history = No person has acted on it yet.
when = When
who = Who
what = What
detail = Detail
published-at = Published
from-publication = From publication
no-end = No end
yes = Yes
no = No
program = Program
station = Station
stations = Stations
national-broadcaster = national broadcaster

## Fields
field-title = Title
field-summary = Summary
field-description = Description
field-tags = Tags
field-tags-hint = Tags (separated by commas)
field-kind = Kind
field-genre = Genre
field-languages = Languages
field-other-languages = Other languages (BCP 47 codes, e.g. fr, km)
field-series = Series
field-episode = Episode
field-first-aired = First aired
field-duration = Duration
field-audience = Who may take it
field-stations = Chosen stations
field-stations-hint = Chosen stations (with "Chosen stations")
field-available-from = Available from
field-available-until = Available until
field-credit-required = Credit required
field-terms = Terms
credit-producer = Producer
credit-editor = Editor
credit-reporter = Reporter
minutes = Minutes
seconds = Seconds
choose = — Choose —

## Offer and upload
offer-title = Offer a program
offer-what = The program
offer-next = Save and upload the file
offer-has-errors = Please correct the fields marked below.
upload-title = Upload a file
file-role = Kind of file
choose-file = Choose or drop a file
upload = Upload
pause = Pause
resume = Resume
progress = Progress
time-left = left
upload-done = Upload complete.
upload-failed = The upload failed; press Resume to try again.
upload-resuming = Resuming from what arrived before.
upload-unfinished = An upload is unfinished; choose the same file again to go on.
upload-paused = Paused.
upload-waiting = The connection is lost. The page goes on by itself when the link is back (it tries every 30 seconds); nothing to do.
upload-signed-out = You are signed out. Sign in again and choose the same file: the upload goes on from what arrived.
upload-needs-js = Uploading through this page needs JavaScript.
publish-ready = The master is there; the program can be published.
publish-after-upload = Publish the program once its master is uploaded.

## My station
taken-of-ours = What other stations took of ours
we-took = What we took
none = None yet.

## Report
report-title = Exchange report for { $year }
year = Year
show = Show
download-csv = Download CSV
contributed = Programs contributed
given = Given
taken = Taken
chart-title = Programs given (taken by other stations) and taken, per station

## Administration
people = People
name = Name
province = Province
station-kind = Kind of station
station-kind-provincial = Provincial station
station-kind-national = National broadcaster
add-station = Add station
add-person = Add person
tokens = Tokens for machines
token-label = What it is for
token-id = Token id
issue-token = Issue token
revoke-token = Revoke token
shown-once = Shown once only; keep it now:
station-added = Station { $name } added.
person-added = Person { $name } added.
token-issued = Token { $name } issued.
token-revoked = Token { $name } revoked.

station-tokens = Your station's tokens
created = Created
token-state = State
token-live = In use
token-revoked-state = Revoked

## The domain's words
kind-radio = Radio
kind-tv = Television
genre-news = News
genre-report = Report
genre-documentary = Documentary
genre-culture = Culture
genre-agriculture = Agriculture
genre-ethnic-affairs = Ethnic affairs
genre-education = Education
genre-health = Health
genre-sports = Sports
genre-entertainment = Entertainment
genre-children = Children
genre-other = Other
status-draft = Draft
status-published = Published
status-withdrawn = Withdrawn
role-master = Master
role-preview = Preview
role-script = Script
role-artwork = Artwork
role-subtitle = Subtitles
audience-cluster = Cluster
audience-national = National only
audience-stations = Chosen stations
action-created = Created the draft
action-uploaded = Uploaded
action-published = Published
action-withdrew = Withdrew
action-took = Took
action-rebroadcast = Reported a rebroadcast
lang-vi = Vietnamese
lang-tyz = Tày
lang-nut = Nùng
lang-hnj = Hmong
lang-ium = Iu Mien (Dao)
lang-mlc = Cao Lan
lang-blt = Tai Dam (Thái)
lang-mtq = Mường
lang-zh = Chinese
lang-en = English

# Follows
follow-title = Follow
follow-this = Follow this program
following = Following
follow-series = The series «{ $name }»: each new episode comes to our station.
follow-station = Every program of { $name }.
follows-title = Following
follow-kind = Kind
follow-value = What
follow-deliver = Delivered automatically
follow-roles = Files delivered
follow-kind-series = Series
follow-kind-station = Station
follow-kind-genre = Genre
follow-kind-search = Saved search
unfollow = Unfollow

# Analysis of each file
analysis = Analysis
analysis-pending = pending analysis
analysis-running = being analysed
analysis-done = analysed
analysis-failed = analysis failed
analysis-container = Container
analysis-audio = Audio
analysis-video = Video
analysis-channels = { $n } channels
analysis-loudness = Loudness (EBU R128)
qc = Technical check
qc-pass = pass
qc-warn = warning
qc-fail = fail
preview-of = Preview of
no-preview = No preview yet.

# Webhooks on the administration page
webhooks = Webhooks
webhooks-on-api = Subscribe through the API (POST /api/v1/webhooks); here you see and remove them.
webhook-subscriber = Subscriber
webhook-events = Events
webhook-state = Active; last delivery: { $name }
delivery-none = none yet
delivery-pending = pending
delivery-delivered = delivered
delivery-failed = failed
remove-webhook = Remove webhook
webhook-removed = Webhook { $name } removed.

facet-available = Availability
facet-available-now = Available now

# Push delivery (on "My station")
pushes-title = Pushed to our servers
push-file = File
push-state = State
push-progress = Sent
push-error = Error
redeliver = Send again
push-state-pending = pending
push-state-sending = sending
push-state-done = done
push-state-failed = failed
push-state-waiting_window = waiting for the rights window
push-error-password = The server refused the user name or password.
push-error-full = The server is full: no space left for the file.
push-error-denied = The server refused to write in that folder.
push-error-connect = Could not connect to the server.
push-error-dropped = The connection dropped; the next try goes on from where it stopped.
push-error-host-key = The server's host key is not the one it showed first; if the station changed its server, remove the target and add it again.
push-error-address = Deliveries may not go to this address.
push-error-withdrawn = Stopped: the program was withdrawn.
push-error-changed = Stopped: the program changed and is sent again.
push-error-removed = The target was removed.
