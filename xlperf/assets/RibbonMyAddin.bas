Attribute VB_Name = "RibbonMyAddin"
' xlperf: callbacks of the ribbon tab of xlperf.xlam (customUI/customUI14.xml).
' Source: xlperf/assets/RibbonMyAddin.bas. `xlperf addin build` fills in XlperfText() and writes the
' result next to the add-in; `xlperf addin finish` (Windows, once) puts it into the add-in in place of
' the xlwings template's RibbonMyAddin module. Keep this file ASCII: the VBA editor reads .bas files in
' the system ANSI code page, so the Chinese texts are built from ChrW() codes in XlperfText().
' Messages use WScript.Popup (a Unicode COM call) rather than MsgBox, which is ANSI-only.
Option Explicit

Sub RunMain(control As IRibbonControl)
    ' Every button of the tab calls this Sub; the button's tag names the action.
    Dim action As String
    action = control.Tag
    Select Case action
        Case "help"
            XlperfPopup XlperfText("help"), 64
        Case "recalc", "check"
            If ActiveWorkbook Is Nothing Then
                XlperfPopup XlperfText("no_workbook"), 48
                Exit Sub
            End If
            XlperfRun action
        Case "import"
            ' RunPython needs an active workbook; the declaration is chosen in a file dialog.
            If ActiveWorkbook Is Nothing Then Workbooks.Add
            XlperfRun action
        Case Else
            XlperfPopup "xlperf: unknown ribbon action '" & action & "'", 16
    End Select
End Sub

Private Sub XlperfRun(action As String)
    Dim rc As Variant
    Application.StatusBar = XlperfText("running")
    ' Python reports results and errors itself (xlperf.addin.ribbon.ribbon_action) and sets the status bar.
    rc = RunPython("import xlperf.addin.ribbon as xa; xa.ribbon_action('" & action & "')")
    If rc = -1 Then Application.StatusBar = False  ' Python did not run: clear the running message
End Sub

Private Sub XlperfPopup(message As String, icon As Long)
    WScript.Popup message, 0, XlperfText("title"), icon
End Sub

'@@XLPERF_TEXTS@@
