# tools/text2c.awk — a text template as two C strings, split at its line "@@DATA@@" (vmm --html's page: vmm/html_page.c).
# Usage: awk -v head=NAME_HEAD -v tail=NAME_TAIL -f tools/text2c.awk FILE > FILE.c
# Character by character: gsub's handling of backslashes differs between awks.
function esc(s,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\") out = out "\\\\"
		else if (c == "\"") out = out "\\\""
		else if (c == "\t") out = out "\\t"
		else out = out c
	}
	return out
}
BEGIN {
	print "/* Generated from vmm/html_page.html by tools/text2c.awk at build time: edit the template, not this file. */"
	print "#include \"html.h\""
	print "const char " head "[] ="
	split_seen = 0
}
$0 == "@@DATA@@" {
	if (split_seen++) { print "text2c.awk: more than one @@DATA@@ line" > "/dev/stderr"; exit 1 }
	print "\t\"\";"
	print "const char " tail "[] ="
	next
}
{ print "\t\"" esc($0) "\\n\"" }
END {
	if (!split_seen) { print "text2c.awk: no @@DATA@@ line" > "/dev/stderr"; exit 1 }
	print "\t\"\";"
}
