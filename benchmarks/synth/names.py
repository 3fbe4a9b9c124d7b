"""Name data for synthetic identities: surnames, given-name characters, English names.

All tables are written out here (no external data at run time). Jyutping readings of
the given-name characters were taken from Unihan ``kCantonese`` (Debian
``unicode-data`` 15.0) and spelled with :func:`~benchmarks.synth.romanise.jyutping_to_hk`.
The names are common building blocks, combined at random: every identity in the
corpus is synthetic.

``MISSING_CHARS`` are characters that *have* a Chinese commercial code but are not in
the recogniser's dictionary (the ``character`` metadata of
``models/PP-OCRv6_rec_small.onnx``; checked when this table was written and again by
``tests/test_synth.py`` when the model is present). A card using one cannot be read
correctly from the image alone; only the code line can recover the character.
"""

from __future__ import annotations

__all__ = [
    "COMPOUND_SURNAMES",
    "ENGLISH_GIVEN_FEMALE",
    "ENGLISH_GIVEN_MALE",
    "FOREIGN_GIVEN_FEMALE",
    "FOREIGN_GIVEN_MALE",
    "FOREIGN_SURNAMES",
    "GIVEN_FEMALE",
    "GIVEN_MALE",
    "MISSING_CHARS",
    "SURNAMES",
]

# Surname -> (card spelling, relative frequency weight). Spellings are the ones seen on
# Hong Kong documents; weights only roughly follow how common each surname is.
SURNAMES: dict[str, tuple[str, int]] = {
    "陳": ("CHAN", 10), "李": ("LEE", 8), "張": ("CHEUNG", 7), "黃": ("WONG", 9),
    "何": ("HO", 4), "林": ("LAM", 5), "吳": ("NG", 4), "劉": ("LAU", 5), "蔡": ("CHOI", 2),
    "楊": ("YEUNG", 3), "鄭": ("CHENG", 3), "梁": ("LEUNG", 5), "謝": ("TSE", 2),
    "郭": ("KWOK", 2), "羅": ("LAW", 3), "王": ("WONG", 3), "周": ("CHOW", 3), "朱": ("CHU", 2),
    "胡": ("WU", 2), "葉": ("YIP", 2), "鄧": ("TANG", 2), "曾": ("TSANG", 2), "彭": ("PANG", 1),
    "蕭": ("SIU", 1), "潘": ("POON", 1), "袁": ("YUEN", 1), "蘇": ("SO", 1), "余": ("YU", 1),
    "麥": ("MAK", 2), "盧": ("LO", 1), "馮": ("FUNG", 2), "鍾": ("CHUNG", 1), "譚": ("TAM", 2),
    "杜": ("TO", 1), "馬": ("MA", 2), "許": ("HUI", 2), "莫": ("MOK", 1), "關": ("KWAN", 1),
    "崔": ("TSUI", 1), "廖": ("LIU", 1), "伍": ("NG", 1), "溫": ("WAN", 1), "鄺": ("KWONG", 1),
    "文": ("MAN", 1), "方": ("FONG", 1), "高": ("KO", 1), "孔": ("HUNG", 1), "石": ("SHEK", 1),
    "甘": ("KAM", 1), "侯": ("HAU", 1), "姚": ("YIU", 1), "邱": ("YAU", 1), "駱": ("LOK", 1),
    "龐": ("PONG", 1), "韋": ("WAI", 1), "阮": ("YUEN", 1), "施": ("SZE", 1), "洪": ("HUNG", 1),
    "湯": ("TONG", 1), "賴": ("LAI", 1), "鄒": ("CHOW", 1), "顏": ("NGAN", 1), "鮑": ("PAU", 1),
    "岑": ("SHUM", 1), "容": ("YUNG", 1), "區": ("AU", 1), "江": ("KONG", 1), "魏": ("NGAI", 1),
    "戴": ("TAI", 1), "趙": ("CHIU", 1), "嚴": ("YIM", 1), "雷": ("LUI", 1), "范": ("FAN", 1),
    "古": ("KU", 1), "簡": ("KAN", 1),
}

# Two-character surnames (rare): chars -> spelling.
COMPOUND_SURNAMES: dict[str, str] = {"歐陽": "AU YEUNG", "司徒": "SZETO", "上官": "SHEUNG KOON"}

# Given-name characters with their Jyutping. Characters without a commercial code
# in the table (啟 銳 蘊 悅 瑤: the table has their variant forms) are left out.
GIVEN_MALE: dict[str, str] = dict(
    item.split(":") for item in (
        "偉:wai5 志:zi3 文:man4 明:ming4 國:gwok3 強:koeng4 華:waa4 榮:wing4 輝:fai1 德:dak1 "
        "俊:zeon3 傑:git6 健:gin6 家:gaa1 嘉:gaa1 浩:hou6 子:zi2 智:zi3 能:nang4 大:daai6 "
        "永:wing5 達:daat6 成:sing4 建:gin3 耀:jiu6 昌:coeng1 光:gwong1 生:sang1 龍:lung4 "
        "鴻:hung4 豪:hou4 威:wai1 康:hong1 樂:lok6 安:on1 恒:hang4 業:jip6 興:hing1 富:fu3 "
        "兆:siu6 展:zin2 卓:coek3 維:wai4 諾:nok6 朗:long5 晉:zeon3 軒:hin1 宇:jyu5 天:tin1 "
        "思:si1 樹:syu6 祖:zou2 漢:hon3 勇:jung5 錦:gam2 源:jyun4 基:gei1 彬:ban1 峰:fung1 "
        "超:ciu1 銘:ming4 聰:cung1 賢:jin4 泰:taai3 振:zan3 添:tim1 發:faat3 邦:bong1 柏:paak3 "
        "培:pui4 信:seon3 仁:jan4 義:ji6 忠:zung1 民:man4 新:san1 寶:bou2 景:ging2 鋒:fung1 "
        "濤:tou4 煒:wai5 駿:zeon3 謙:him1 亮:loeng6"
    ).split()
)
GIVEN_FEMALE: dict[str, str] = dict(
    item.split(":") for item in (
        "美:mei5 玲:ling4 欣:jan1 詠:wing6 婷:ting4 雅:ngaa5 敏:man5 慧:wai6 芳:fong1 麗:lai6 "
        "君:gwan1 燕:jin3 琪:kei4 穎:wing6 晴:cing4 淑:suk6 秀:sau3 珊:saan1 倩:sin6 怡:ji4 "
        "潔:git3 瑩:jing4 琳:lam4 儀:ji4 鳳:fung6 蓮:lin4 萍:ping4 靜:zing6 碧:bik1 翠:ceoi3 "
        "月:jyut6 玉:juk6 妹:mui6 愛:oi3 心:sam1 彩:coi2 佩:pui3 詩:si1 曉:hiu2 凱:hoi2 "
        "綺:ji2 鈺:juk6 筠:wan4 瑜:jyu4 慈:ci4 蕙:wai6 嘉:gaa1 家:gaa1 思:si1 子:zi2 樂:lok6 "
        "恩:jan1 晞:hei1 蔚:wai3 薇:mei4 雯:man4 霞:haa4 虹:hung4 娟:gyun1 智:zi3 能:nang4"
    ).split()
)

# Coded characters missing from the PP-OCRv6 small dictionary, name-like where possible
# (jade, metal, fire, fragrance radicals), with their Jyutping.
MISSING_CHARS: dict[str, str] = dict(
    item.split(":") for item in (
        "珔:zin6 璯:wui6 璭:gun2 瓗:king4 馡:fei1 雃:hin1 錩:coeng1 鍹:syun1 燨:hei1 澰:lim6 "
        "瀳:zin6 菻:lam5 蔙:syun6 騆:zau1 鷴:haan4 錂:ling4 堳:mei4"
    ).split()
)

# Western given names added to a Chinese name by some holders ("CHAN, Tai Man Peter").
ENGLISH_GIVEN_MALE = ("Peter", "John", "David", "Michael", "Kenneth", "Raymond", "Eric", "Tony",
                      "Alan", "Vincent", "Patrick", "Kelvin", "Jason", "Ivan", "Louis", "Dickson")
ENGLISH_GIVEN_FEMALE = ("Mary", "Karen", "Jenny", "Cindy", "Winnie", "Joyce", "Grace", "Amy",
                        "Irene", "Fiona", "Cherry", "Vivian", "Carmen", "Queenie", "Phoebe", "Iris")

# Holders without a Chinese name: surnames and given names from the larger non-Chinese
# communities in Hong Kong (British, Filipino, South Asian, Nepalese, Japanese, Korean ...).
FOREIGN_SURNAMES = (
    "WILLIAMS", "SMITH", "BROWN", "JONES", "TAYLOR", "WILSON", "THOMPSON", "ANDERSON", "MARTIN",
    "CLARKE", "EVANS", "ROBERTS", "HUGHES", "MACDONALD", "SANTOS", "REYES", "CRUZ", "GARCIA",
    "DELA CRUZ", "BAUTISTA", "MENDOZA", "AQUINO", "KHAN", "SINGH", "GURUNG", "RAI", "LIMBU",
    "SHRESTHA", "PATEL", "SHARMA", "ALI", "HUSSAIN", "SATO", "TANAKA", "KIM", "PARK", "NGUYEN",
    "FERNANDES", "DA SILVA", "MULLER", "ROSSI", "DUBOIS",
)
FOREIGN_GIVEN_MALE = ("Peter", "John", "James", "Robert", "Thomas", "Jose", "Mark Anthony",
                      "Juan Carlos", "Muhammad", "Imran", "Arjun", "Rajesh", "Prakash", "Bishal",
                      "Hiroshi", "Min Jun", "Minh", "Lucas", "Andrew James", "Daniel")
FOREIGN_GIVEN_FEMALE = ("Mary", "Sarah", "Emma", "Maria Cristina", "Rosalie", "Jocelyn", "Ana",
                        "Priya", "Sunita", "Fatima", "Ayesha", "Sabina", "Yuki", "Ji Woo",
                        "Lan", "Sophie", "Elizabeth Anne", "Grace", "Marites", "Nisha")
