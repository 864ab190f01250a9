package quota

import "time"

// monthBounds returns the calendar month window containing Unix second sec
// that starts at 00:00:00 UTC on day anchor (1 … 28, which every month
// has): its start and its end, the same instant a month later.
func monthBounds(sec int64, anchor int) (start, end int64) {
	y, m, d := time.Unix(sec, 0).UTC().Date()
	if d < anchor {
		m-- // time.Date normalises month 0 to December of the year before
	}
	s := time.Date(y, m, anchor, 0, 0, 0, 0, time.UTC)
	e := time.Date(y, m+1, anchor, 0, 0, 0, 0, time.UTC)
	return s.Unix(), e.Unix()
}

// luaMonth is monthBounds in Lua, for the scripts: month(now, anchor)
// returns the start and end in Unix seconds. Redis's Lua has no calendar,
// so it converts days since the epoch to a civil date and back with Howard
// Hinnant's algorithms (chrono-Compatible Low-Level Date Algorithms), exact
// in the doubles Lua computes with. Running it in Redis keeps month windows
// on Redis's clock, like every other window, at no extra round trip.
const luaMonth = `
local function civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end
local function days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end
local function month(now, anchor)
  local y, m, d = civil(math.floor(now / 86400))
  if d < anchor then
    m = m - 1
    if m == 0 then m, y = 12, y - 1 end
  end
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  return days(y, m, anchor) * 86400, days(ny, nm, anchor) * 86400
end
`
