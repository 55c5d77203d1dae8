"""Nickname equivalence: William = Bill = Will, Francisco = Paco = Pancho, Guadalupe = Lupe.

Registration clerks write what the patient says, and patients give the name
they use: a nickname is the commonest way one person's given name differs
between two records. Each line below is one group of names for the same
given name, the formal name first; a name may belong to several groups ("Al"
is Albert, Alfred and Alan; "Tony" is Anthony and Antonio). Names are stored
as matching compares them: casefolded, without accents.

English groups follow the usual genealogical nickname tables; Spanish ones
the hypocoristics of Spain and Latin America (Pepe, Paco, Lupe, Chucho, Nacho).
"""

from __future__ import annotations

from functools import cache

__all__ = ["GROUPS", "canonical_names", "same_name"]

_TABLE = """
abigail abby abbie gail
abraham abe bram
adolph adolf dolph
agnes aggie nessa
albert al bert bertie
alberto beto al
alejandro alejo jandro alex
alejandra ale jandra alex sandra
alexander alex alec sandy xander sasha al
alexandra alex alexa sandra sandy sasha lexie
alfred al alf alfie fred freddie
alfredo fredo freddy
alan al allen allan
alice allie ally elsie
amanda mandy manda
andrew andy drew
andres andy
angela angie
angelica angie
anne ann annie nan nancy nanny
anna ann annie
anthony tony ant
antonio tony tono tonio nono
antonia tonia toni
arthur art artie
barbara barb barbie babs bobbie
beatrice bea bee trixie
beatriz bea bety
benjamin ben benny benji
bernard bernie barney
bernardo nardo
beverly bev
bradley brad
bridget biddy bridie
calvin cal
carlos carlitos charlie
caroline carrie carol lina
catherine cathy cath kate katie kitty cat
charles charlie chuck chas chaz carl
charlotte lottie charlie lotte
christina chris tina chrissy kristy
christine chris tina chrissy
christopher chris kit topher
clarence clare
clifford cliff
concepcion concha conchita
cynthia cindy cyndi
daniel dan danny
daniela dani
david dave davey
deborah debbie deb debra
dolores lola lolita lolis
donald don donnie
dorothy dot dottie dolly dora
douglas doug
edward ed eddie ted teddy ned
eduardo lalo eddie edu
edwin ed eddie
eleanor ellie nell nellie elle nora
elizabeth liz lizzie beth betty betsy bess bessie eliza libby lisa elsie
ellen ellie nell nellie
emily em emmy millie
enrique quique kike henry
ernest ernie
eugene gene
evelyn evie eve
florence flo flossie
frances fran fanny frankie
francis frank fran frankie
francisco paco pancho curro frank kiko cisco
franklin frank
frederick fred freddie fritz rick
gabriel gabe gabi
gabriela gaby gabi
genevieve ginny gen
geoffrey geoff jeff
gerald gerry jerry
geraldine gerry geri
gertrude gertie trudy
gilbert gil bert
gonzalo chalo gonza
gregory greg
guadalupe lupe lupita pita
guillermo memo guille willy
gwendolyn gwen wendy
harold hal harry
harriet hattie
henry hank harry hal
herbert herb bert
howard howie
ignacio nacho
isabel isa chabela bella belle izzy
isabella bella isa izzy belle
isidoro chilo
jacob jake jack
james jim jimmy jamie jem
janet jan jenny
jeffrey jeff
jennifer jen jenny jenn
jeremiah jerry jem
jeremy jerry
jesus chucho chuy chus
joanne jo joanie
john jack johnny jon jonny
jonathan jon jonny john nathan
jorge coque jorgito
jose pepe chepe pepito joe cheo
josefa pepa fina chepa
josefina fina pepita josie
joseph joe joey jo jos
josephine jo josie jody
joshua josh
judith judy jude
julia julie jules
katherine kathy kate katie kathleen kay kitty cathy
kathleen kathy kate katie kay
kenneth ken kenny
kimberly kim kimmy
laurence larry laurie lawrence
lawrence larry laurie
leonard len lenny leo
leonardo leo nardo
lillian lily lil
louis lou louie
louise lou lulu
lucille lucy lu
luis lucho wicho
lucia lucy chia
manuel manolo manny lolo
margaret peggy maggie meg marge margie greta daisy rita madge
margarita rita marga magui
maria mari mary mariquita maruja
mary molly polly mamie mae maria
marie mary
martha marty patty mattie
matthew matt matty
mercedes meche merche mecha
michael mike mikey mick mickey
miguel mike miki
mildred millie
nancy nan
natalie nat natty
nathaniel nate nat nathan
nicholas nick nicky nico
nicolas nico nick
norman norm
oliver ollie
pamela pam
patricia pat patty trish tricia patsy
patrick pat paddy patsy
pedro perico pedrito
penelope penny
peter pete
philip phil pip
rafael rafa rafi
ramon moncho mon
raymond ray
rebecca becky becca reba
refugio cuca cuco
ricardo ricky richi rico
richard dick rick ricky rich richie
robert bob bobby rob robbie bert bertie
roberto beto tito robi
rodolfo rudy fito
ronald ron ronnie
rosa rosie chayo
rosalind roz ros
rosario charo chayo
samantha sam sammy
samuel sam sammy
sandra sandy sandi
santiago santi yago
sarah sally sadie sara
sebastian seba sebas
stephanie steph stevie
stephen steve stevie steven
steven steve stevie
susan sue susie suzy
teresa terry tess tessa tere
terence terry
theodore ted teddy theo
thomas tom tommy
timothy tim timmy
valentina vale tina
victoria vicky tori vickie
vincent vince vinny
virginia ginny ginger
walter walt wally
william bill will billy willy liam willie
zachary zach zack
"""

GROUPS: tuple[tuple[str, ...], ...] = tuple(
    tuple(line.split()) for line in _TABLE.strip().splitlines() if line.strip()
)
"""Each group: the formal name, then the names that stand for it."""

_GROUPS_OF: dict[str, frozenset[int]] = {}
for _number, _group in enumerate(GROUPS):
    for _name in _group:
        _GROUPS_OF[_name] = _GROUPS_OF.get(_name, frozenset()) | {_number}


def same_name(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` (normalised) may name the same person's given name."""
    if a == b:
        return True
    groups = _GROUPS_OF.get(a)
    return groups is not None and not groups.isdisjoint(_GROUPS_OF.get(b, ()))


@cache
def canonical_names(name: str) -> tuple[str, ...]:
    """The formal names ``name`` may stand for ('bill' -> ('william',)); itself if none.

    Blocking keys use these, so that Bill and William land in the same block.
    """
    groups = _GROUPS_OF.get(name)
    if not groups:
        return (name,)
    return tuple(sorted({GROUPS[g][0] for g in groups}))
