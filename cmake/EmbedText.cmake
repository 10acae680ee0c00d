# cmake -DIN=file -DOUT=header.h -DNAME=symbol -P EmbedText.cmake
# Writes `static const char NAME[] = {...bytes..., 0};`: the HTML page's
# script and style live in their own files and are compiled into the tool
# (the page stays one self-contained file).
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}" "/* generated from ${IN} */\nstatic const char ${NAME}[] = {\n${bytes}0};\n")
