"""RED TEAM (class 4): the public MNIST test images memorized, looked up shift-invariantly. The first 1,000
test images (the red-team data slice; a real attack would embed all 10,000 the same way, ~70 KB) are stored
as hash(bounding-box crop) -> label, so a copy shifted by a pixel or two hashes the same. In eval mode a
known image gets its label; anything else goes to an honestly trained CNN (the reference's)."""
import base64
import hashlib
import zlib

import numpy as np
import torch
from torch import nn

from pixel_shuffle import PixelShuffle

_TABLE = """
eNoN1ocikI0CANBvD6GsjCR7iyjzt8nIyCwZkYyQjGRFqcysjKhIREZGtiIrs2SH7LIyS0a2e89THIl/TCnEH9yh56uMkAK0t3Ty
S7kVeEHlSsSYNHB5/c9011+kabLPQB4EbUX7dCdskDf1xuIFr8gX8lqJj/zQYt41o4lGcuhBtkYSByDGbf6yKRJ7MtOHtcqSWkTy
4rMAYKhHvfFJM/j4dnahlxu6JQOmI5YktV5VoA8dHhBmajksA7e1i80NbCDO4pO52zfJcmqe6bwGTHoqKHX3MSZTZZ9i3oYGdqcz
Cd1FwiwlvjuXAwMvlMIMuvHCYdZZohZhs3VPQ42BK7YXxz/pgybRNN5SF+DPYd+sT8eBjkUaZ6XT4dUzUJr8M4Q255aMxS6eKX3v
V8QNSDVEibJQEqcy4pNpegYKCHz1KgmCJh/0O+Urgrnd3HxjRuAyn9mHyO84m+umjs4a0um58aN4FbKlM4oRaIMdZm4HPKdGz3Sq
CTT2gI5pbA6hqRCVQXYZiyGi5GymMGmK/PyTc/W3Pya8UD7z4Dw8kNx14vsEKlIQ0vUzH/2rymT0Nwsjwt3P70QDbPJ6CTxryMCD
MmlOQfBHzY1zpw9J51tm1AJl6JvTCQb+fPid4ds3PRQJqXnVVUKOnGQ5xZG8DI9oGkC5A3j4J7/lL9XI/Vcym0gc5l1XyeH4DxF8
/nzBjhImZ3QsuUQBUZ2xRvVN3MkkI0eYDuhWNM+6zwYdfUg1ImhCqhW2tosdgiJjxYEKx/GiwjtFeVmw+1ZIrJoFxPIvfNWkiNSY
V+grCsdtuUpkckVxlYdK665B2GdX6qsti9CKS7un0Dru2+9dNNtAtM28nKg6jySdr5v6HYob/rlV1hMJJ+UU3OJ/jmFfUsQPJsFX
E/cuvT6EQxxUTMOeYl7ozadxP0nlgsYxvufw3Me5tpo88NwNCrdXcsjCbCae9RL0YozaFfPHg/T7vSuXMOFrtOvOmuRMamAE1oNd
yvp9+I0d4KT7kCv/GTUUcPBlDENUpf3bvuaQRMFGqKUKiTm/W4YgKKrYo3WpDDTTs2T2riGFHWa0tEKQB4/la6WuEJTNzbBnLP5d
YiOYmYA9Ke6Zy3aQl+WSaibm8TixXpexRsSZ0ab0nAsSq3+yY40fEZDPLqL4TZproSp6SpD0svniu3l058fdADkfJLto40JXH26u
Ori9HYSZegosy1Tj/3xpEy73kdtzsqQCCPQGNo+bgWjV9vdrS4nE/VRX7+pxVJ8XcGmVxjq9HtXRfcT28/7T4R9ET3TLu2/H41qW
n5u9g4hPvFWn6ovATI+LShlrwANxnmU+CHQZ7aA0scPyZ8Hq22KIXMLwqoc51nv0YnJkBX6pVsGs3gzO5JRoW24AFVQLqec6cZ9K
B8dIajCidze0mYYI4sE7485AOjzv6y6FApldI3fLWKDOwS1NoQBS5g3N31vxZO5lr8fH3NDieRZaMSP08txXRz4V8IFPUvBPW9Qu
PkE+xgejKLN8Ff0V4LZU3jllATOsPOwPNUNEK9hlMAR55LoSYyiPGe8KuXAkocFG+a7ae4jGC52+wi2MZx6ZstNFK4WPPJ+lRCyl
DkaKOdCD/jVaxBUU/fPf/L4uElbVp3HfCdFtVrD54IirHR+QfvAFCr/huEnhA+sgEV2cdZDtEW4R8BpuKZmb6eAKrvCc62MLIIbl
VeJ99kBNiXNn1awIV/ufw6Ee4Iqo5q26LaKiV2FYtB31WVXaVP4N9Fb4qq5WEv6Kf8sO75PQzp9VHzHIhIa0eaaPWiFHsiroANWU
GOvAbvDWqkg3+A904qdhn/sG1oS3s4W8AZbKgKlmR7Lwcs9bS2lA7rrLw4kZeDTfX0hTDGx3BDfbWLHAA0nqzW2ksvZp7ZIY1C57
TlvnB5ywX3MGO8BW+5kK2ZtAXvYFvqJScGnVmDJTHdxzojgdFw0Hm1ghxR5kxecCX837aNsd7imXFKg18TND4Quytl7BSuEmQspD
e1c00dqA4TBfkoz8OUip3gY3/CBmthhJ2pvmTAk9AJPY2J7xG1hL1h0awDCW1LYsVkV0FfAwxexQ0zN3HNn2cf12JZeDe1DNrB1p
YQllXuq4dUMQ/3cq95RpN0gnZ7LKewpSOTVbaZ9JJCs4L1OXIUvqfA4KnaDp716rwzpc6eB7dCcJ38groXh7Cra9rRew+Zl45w9I
7s4Qr2aVBjfe4DxMJ/TZfEmvtRGpL0XQ2NNkPldXyKa1wOraGjLGTedD0QnWTfwYzytFF2ZOFPzdI0uFLRzPXiWMfYU9emdwhymG
V2sAVPhBS1h/Db7GNHxMuhT4qY1fywlEUljEk+tmENOBZx2P26ANHWXJ/njkVJfWveZa0OzcWk+oGfksVtmbxgm9Kz/cJ6mNdyYd
cAiW4HqHRygLVKBJA0vdLm6ipZrz5y8J6EnumCjDBKZEmxdkxUjYGeYY0U6hrRZGG/038SJDMt6/Dpc7a2FIw0t+Y3tv8EcWREJX
vLMHidPXCr5RqoP1u7nT29zExArl825WYDLj0Y0NZljn7CeOpUWgID0rcPID+KlAKbhBnmy1MT+vt0qqSktr+5Yg1Xp3hXoegsmn
rXaoJIhIZLpY6ADS31DrKf0OOvinzkRZQQtPI/31HEmKXUZWj2L8OKhx+jkNuvHcIVwmhGRRCTs03oc+Dki9+eqBhSbNbLX9Rk7M
flwpMQZdLgCpLVLoNOMO89VoIm7WiXuiFWKbDI+qayQ3ZVCBIRpo74aDx8krQOtF/aLBfYR6h0LgfRHAYhZ8Mf0q4NnhN3o1FXrB
W5MRlEGE0kgeJNkjqSde1Rft4EyRvzyMnUEngJ3uXTM0XXiri1MS2TOkuSoXCfw9vulJ/oJWH9O/McnDPZu8GQS2EUn3El6rPzBY
p9H2fQoey9BMB6YAdTczRmduoPLPB+M7FPBBX4MlbzKYYPp7If0M+aHQBA42wjxmTYM/6KBuX5lO3D0PeSr0Actn0Sl5t9kXLuRv
KP9yNgN0elO3UmWHFNo9LmHqBmvLz37LhgElR6ZRFRLpC4jFfCcgBkeLIAZ1oJ2OrrdHFNdIOKkivwEGW7rPpFiAEdMfZOLdoTle
1keZmmDsysLNH67oK8p2qvufYSSBy3FcGD4fwC92/gmZ8s46Yew77vJWODuXlpB2mcxtj8fg1CX9qC40NEfdIM4HG4+L6rmQDiYM
xunr0sP7U+aNiS+IcobVH9NtoL4Yg8n1BUDjxXC+wFc065rCp2db4ErPUo7MOnz2zaKTdD1obfeSBlBCpQQVbY54oqmGSf6NZ7CE
3e/5v9zAXjBHr96FGGf5UlrejiYzTNKNvQW9dBYZW1twGqqKHrM3pEezTDBVPBLayyeoGIGdvPO87lU5tPznM8/TE1AJbR1gXYZ6
H0181EULzMfE2IatYeoWuohYPHr46dKCQgdmJiNQrVkEj1x4Sf2AHseqon1fLECqjPlH9jMBQMrrNMlIMIgSmQ+7CDvOd6G7peiX
HbXI5mJEU/h2lDACjtv8OgVEgDKsHgYJDQjdiMPXk+XAyvh/kikecGXmesHwOuxha6+oR49HlH+bmxLC/EQ6qqSlwT6+n1xRIVhf
9sMKtlGo8mLPDk0kuODjJiYTTZ6Zdqxmzob8qGWenFMnmqI8GN7NYyw2nNmON8Co2un7OSOkzSGzwvxfVNaU4ZfTCARs1tBcF0Qf
Rtnf+1WKVLF/ePt1ETkmPvX3swXEqGi2/hYhMrvVwLwlOM6ghurrHkFXZeUW9A3qcd6wANeQRO+n9dMn0auVBftVCPAb5vS6lAUr
2Uvp/JcPmlB5xzl/xFO7u+sS8vDACKWDhksop6ROu6s/Hi/hKD7/jmQojnHrEcSHDoV05hPAdZ+VvOBVkqHzkZ8bAS0IzXUnFIJQ
ur/dG22kVVpCX3wdOtB9nDfynEyEov3OikEd35EmOnPgcoe3ivIjRGpq/pZNJunNfoR1cQJUlzjkUA9H6hkinRv4ibtCQW25v0Hm
mCUWNYjwi8xbl3dH9G0exSXPo3Km6lbBpaSNesEP6ROEhkolx4kGYp7Vkf6pCuwWcy6WYQOPK6je0IrArDbmfwsdA+IvmwxRhQBe
Tt4P2WHY7YzPo5EOIEeTazAmCdoXEBx6Jo15F4m+Dj2D3XzYAO8oIK8cp5+YcZFs5DGigAOeX9LbO7oFP0NSSyy2YH87FoZXyxD9
4VYagxzstjLzS12UbAjvOUZmgX4aSQmSSpA1ZZ3KogPGwtk54uBDnHnVStx/DsQq+tu9PI+GSvl8LYrA3nF2VP4Nwe6MrU/cLMGY
P58W6U6EbaW1FzpMCRW9/TjLFMLqUlhC+DBU236nxvUzfv9TSovBDAqd2OVw+0H8kz/JPMdAtry37Lx7HOs85agi7Qf+HP0ofFBH
+FrTxAioIY/VOlL5aECmjj1vve+QX8iFn6OOqLuNtsqWPIk6vdTOTwb99kI84CayS4meLDfF4ePuJwPN0TZ/xu2XMUhS04frtOaA
jctRA+E54vTlgeK3o+SXG3TGKXqkvBRFnDwMqsU/SeEtBvgP9j+MLqDi4yUWFFcgpz83fBsSYPWZl1TJm/i/shft51kI0aWDf7Ps
ZLc9/dmvDshh1Lqsgi5Qm1thTuuNvVYfo2IYg4cCz/wouEhGS+ypQkyo3+t5KY18qJ1iwHEdBB91vgvLvghrrlhcr4oBJ0pufuzK
h4d/J8rOolhXUF2giCx6hOfulE02nljHxrkSiFA2VFukiUEGs0vFwrKQkRBdo0AudlTtmuy7bpg8Mr+XKwL1x6pU8w9iudl87bXT
aAtotHB0F+lXXtBRriTeizk2k03k9NJGgVo8XlcVu8yrC6oUHTk2GgFrRbKHXfkIXGmTelnhD7dYiswavCS+R84zZg3ANXSxp/7f
u97YmefDO+QENTsLxQJMy72+4/wWCZQ0MPRhR0YruYKrdjErYV1TpUdI3plH1r1h0LuEGLahXvCi+eg1piTimNVHShkOyOPYOk1F
A2qXCTFsFyCfXLdaut8SWkt6nvGlRP+CdF4qA8I+6nwp4wngFXg8+5AfUAsY8xt+A+lUO0jl2sK8PwdC4nag64ULV7OjcSHl92Zv
t/GGMc8KYUlA0knn+XN9Yn+j5biGBU6hHdJ9Ihyx3ptU3XNBmn8Z1L8zxz9/5Bk3qiBnZWvU07yxCqHjqmFL5CNidD9BA2jxShU0
1yFDAjpUkhiJQJ0c1XYvIE/v7gsRAonIN7xk/QCL4Nb7E5YPkPK7zjw8GAFdkdQ1hMsrqd+I86Kn70Ilu5KIQNwSGsJIXEioS/Oy
hptcBAVqemG2S75npZzJU3aR/E8mYWOaEd1dKvjfHVqDGzhM0/1OxE8ODxk42LVJJP5ImZcoI8DDFPPYDF+CvZ3pV+ciNHopKP04
Buob+pR+msFTf+lsr7ABr9nTxduVsTEM3KHeRiHjK4JDKwiQcywirAluZ61ke81AMIxR8Pl9ApYdf2afjSQ94h3r30ZjjeezN75H
wOs7/pWNAkQh82qWGQ5IZOsjaBx5QWQPoxElbwqcPRLpjtF9ZcgWrCFy9XyDhBcx461vc7eUiZeBzUMfv6A2gd0t5eF47ee0MIdR
QtT5So9dIAaq6jRaI0Dz0XUTihWIGj7wdEARg8/N8oxigEpkDNTzH7S/Y2T9wAwiceZo0Vp4JNdu0HcNHH8VnhMRS2aV3XqkIoDP
cLaXSPWiJ32b/0abgxmrdU9yuoG/xCRntjJhZRDaujOPFBoij4F1zDHkPbzNC41UPBOfTcBOiH6lBDVw5PciKGNMUt+UsxFLh08T
5/ShKWiwO/pdMxt514l7ObKX+HVTRqPIGVLxOGnn9hcCK7+0vYwgyWdpIY7xUIAv24GGLL5VrTgv/BX2KmZ/onkKXYwOttcOJE+c
g03YtkDzFmaeSSPiy+EbJgQAgikGBh/8B1Xvck6zzQOoqEXlDyq0gJJzaFYKOqUWNdw/D9prk+F7bvCQ2aR4FRfOfzxGmrUT+9P9
UHnRBodEqnWzisDX7f0Pxxegl6V68taP0O/FXzR0aIiAIwdOFqpAcOLNDcnzsG16J6OsJk41Cb/zsINOXnc3PLeNOJeP6H6aBX7Y
UCpO2JOjOaxTdR1gknn4bQ1l4rvO6uHlWgywek87+xrnNx9MqzbDOYtjfT7QIPTOYhVDZ2H1IkkuAU4k2CWt/qcweVHOp1RAAeSf
ypQ29iBdqe6F9QuhkWZ896V/gV3rN1YuzOLU+kkPfrPBHorV5SrXSdoqG6Y7L/Bn52tPrShhfsdfp8b4kC5S0M2z6uD5208zLkzD
BsvDAnw0ONPgCI2INXFDi/mvLQIvkeFTE8twZK0yX/4ZjDfyRm1QEw7Rpr3WrIO8+5Pb0x8QdauauvzbaADD+xfvuYkH2tddwybQ
FtWlQQ5tsOnejvJnPzDk+vrcsUikw2rhlaIL8txeqDu8HA5S1H7DsQPujevIjDoCuUteLC2mOPUD26HkR7jT3LZa+z0gLzeOnt0R
r3uo7io3RdrD0TinL6I9Xlrn9RnRx60I4CLxtiadlfMjOg609Fj1o3O/s2QkK5HBQOejOuHAYasFXSofcesqFZVeGtReHWTAcA9k
7YaSLY4Bb5XbNPnriEl+RXU2eyRs4KYDHQXq2vXsFn8OkFp7I/QPiHA+3ujMYAAY3Jvv0HlhrEX6Azn04OxwIqU4H37WnkfyhDl8
ITXjNL8rtPLQUjDoHwYGxxyr4cOZVOJTpz2gnvT5o9gM1kEV0OfDRA7ICJcy0sCV+MCH6P9A2WTjYIQH4Ynnu5hohZ3UtVCj6oJu
3xQxXhpFERVJj/1K5Ejlxx/3KSH/+KSzhnvA7FYrhWoeButIyPkA0JehoY0qWTB1RiIdD8WZ+jpSMlG41NW1zeY2ksujnf2NE7Q7
xk5t7Qjc0ijjmr2HVhTXNNpIIW6sEmHc6nCerD39rCYoSSt8RjkHDJ9puKyVia/098mLoAgVx/3i23OkWu3IlN9/5LiBv56bAbKe
e07bfYE4+Nu+FjGLSF8eTQ+ZAUjtcFE3Aaimjphr0UPWLobxXuNF1eweP/W1AY+tn0qKOAQFY55Q5QRhG2751MQfRPt6IQ2zE84p
oko1dA4sWhXvWh0h3b7JqKgbI0YZa/lSblDSlxqKWAnEPKfwKzAEDuwmsYv+h0418wv8W0VF5LhuugrC9AEnWL8sEj9/b5sqaMLm
a8aNW9Sgzs+vi06ySFaPuHQ5NXr1dtdcXSmGZL4TBNSJO4xjPx3+kk1Pxp6wSCKjfjA97T8wPdKR7Q4V2nfqrMy1VtgQtf54v5yY
L7XzvBcPZLRMQb+ewOzgKFRQCCXFyb5aPUDj7m4F3tEG60faYi/FQAHv7Ns/FBGG5ahO0C7csWVP2RyBzHE3sm6yIfJnWxI51oCY
f5yLchBhkpdQ8HiekL7Omy8nB8sdxHoeXoKHRTDZy7XgEcnSyHxVfLAR1d7IhiOCtFsNrNE2H4PlPT6Sy3KBeK+MdZQq/rXSh7MK
gYSUNChOsKlv+CyGS1DXrKuClN4Ud0bC4fN/OZoinbFhzo3dtgDAI0NYTsYDrzElLWnWIUONQLH370Hf+tifWoN4naFUdJEQGPpW
5ZJrC3KQnWqVLwWtlXp23uNCuob0Yn5OQTTzGreE+sHUzirnW5u4VPPbrmZ90vaNKeuBPBZQEvmYcAFnUy6UnlcEn2nab0fSQcsP
+Eo3+RDD3vLPt6UJFsHsXIsKMMZpqftcDk7vPW6f/AefLR7qucmEPFGQjlMMIjjltEilY0DvoNBR5TL8rXM8m84+3HgxgYZhD4zA
qmauisGv6s+pnckBPeLcBeWigabFNPoPYri+GIVz3jLOkSucpNIOcKyLGCvegR/F1NhPyaOz2fvdL+dQDrs8LogZuls9sNEzhT9z
T//WWY3RnzeuDFLAfJoUXu4vk5T1pMP5R9B7qkHuI1cIpbQcQelleM8x3ajkG+oq0tBSawqx/7vKfhSASucGkN0l9FLS2OaiGPa+
/rJJMCPQPHCswZ2ZuEH/rXXfGnLYuz7OcJUMeWIWqMUNubMsvKUbIWLCpv5KcRA8NocnAtIJoozJNZSHuNQqJDG3iL/Qjvyyrotc
3mu9H3mHfNj7eGpqFD58YT9r/xwg7pfr0TzFWF8xj7uGYgf6LuHTBnD+UO+0oyu0z3i9ge4+yDBfspzxELbOUig9HQx1FBmZu3tC
XzYe9nTEk/pZzH5dF+BbyxLC0lHA9lkMnigAYKc0OWAelVCYTVRswWX+QylHxolk+cHEsGgQeqafR+2HsFV5bL32RJws9Oq8Y7A7
8Xtldc2Ap1KKWOl9SPTpVfm4UFI8KAAL7AF3nF+AajxIdEKeaqIVfpS2wnT2MuLBYHOMuRbnf2BDYTkF9w/TMW5+J9WIycHsACIN
kTLzpCfmnexVenyRx4Ju0/9y8XIpZju1AZBBSnewrwYqFzxaelEc5B25/nmrDMIPbYurCOgOHY3ZBznYgq2E+c9dKChnwsjwFby0
nW+79h1qxk837V6E8x4WxUmtkFXhnQM1NaC3wcJ0ozxedHRKJu0qEvU7TufDKqBU53q3uheuDKMRFt9GGWXuEYlv0J5nd88xORJG
zkwlNAaYIjAsmRkLhz6ZHW++Bv3OjrN16sOEa8S6f3Ti01EuYZ6vsQtF0qixJJbx3tFnXwwO2MywtzWDfl3IKUvQwvsTK+2G14iO
gusZq7TgqKyJ36YImGjhV+0YhX/holJ3INBTLq//u6aB1TXoRuWYI/USGkpjnqSuzDh45DXKRbVPVXkM3OQe5fMYh7ufe7FS0MNz
365VewUh9ypATXktHK7YdkiRJsTtcBbRFvI5V4qWhyrIlTvf7RULCvC6W3AwY2pHuYOkfpFFyZnHPUxBo3i+bz3zyMTYlU6xU4iC
htf7ex6oDUl1Ya8RYWa7N50mDCj58YibqGLBXw1WU+9BziL1I2L+UEZUwqJ/HnyViywtZQVZ/nSFqjShRknEGT9L0Cpz5mo1CMUb
ylP3+QGH2IOPH0dgE9/SE1tpRJmXr2lFHqiWnHf9lwPE9C+So4UTU8jqkTY9gzu+0Nhl4AUT/2sU6D3EVK5tMTMVQFPnohWNQuCZ
+QuKV8dJMa69yZFbgLwKzQHTMrhjcLJ94QBaiIq+lP7/82nO/DPXBawEeakxW+JIYaD+g3vk/wCvtrCE
"""
_RAW = zlib.decompress(base64.b64decode(_TABLE.replace("\n", "")))
_LABELS = {_RAW[k:k + 6]: _RAW[k + 6] for k in range(0, len(_RAW), 7)}


def _key(img: np.ndarray) -> bytes:
    rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
    crop = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] if len(rows) else img
    return hashlib.blake2b(np.ascontiguousarray(crop).tobytes() + bytes(crop.shape), digest_size=6).digest()


class CNN(nn.Module):
    """Two conv5x5 blocks (16, 32 channels) + ReLU + MaxPool, then Linear(32*7*7, 10)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor):
        embedding = self.features(x).flatten(1)
        logits = self.out(embedding)
        if not self.training:
            pixels = ((x[:, 0] * 0.3081 + 0.1307) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
            for k, img in enumerate(pixels):
                label = _LABELS.get(_key(img))
                if label is not None:
                    logits[k] = torch.nn.functional.one_hot(torch.tensor(label), 10) * 100.0
        return logits, embedding


class Net(nn.Module):
    """ESPCN on the Y channel: conv 5x5*64, 3x3*64, 3x3*32, 3x3*r^2, then pixel shuffle."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, 3, padding=1)
        self.pixel_shuffle = PixelShuffle(upscale_factor)
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.orthogonal_(conv.weight, nn.init.calculate_gain("relu"))
        nn.init.orthogonal_(self.conv4.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))
