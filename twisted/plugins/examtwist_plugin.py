from twisted.application.service import ServiceMaker

examtwist = ServiceMaker(
    "examtwist",
    "examtwist.tap",
    "An exam server for a class: tests over a line protocol.",
    "examtwist",
)
